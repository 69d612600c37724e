"""A NumPy stand-in for an attention model on sdc data, scored by the sdc package.

Run: python examples/numpy_model.py [OUT.npz]; then `sdc score --alpha OUT.npz` prints the same
FTPT and FFPT (OUT.npz holds alpha, predictions, labels and fg_index). See docs/python.md.
"""
import sys
import numpy as np
import sdc

train, test = sdc.generate({"distribution": "blobs5d", "n_train": 2000, "n_test": 1000, "seed": 0})
n = np.arange(len(train))
fg = train.segments[n, train.fg_index]                                # [n, d] foreground segments
means = np.stack([fg[train.labels == k].mean(0) for k in range(train.n_classes)])  # [K, d]
near = ((test.segments[:, :, None, :1] - means[:, :1]) ** 2).sum(-1)  # [n, m, K], 1st coordinate
score = -near.min(-1) / 10                                            # focus: near a class mean
alpha = np.exp(score - score.max(1, keepdims=True))
alpha /= alpha.sum(1, keepdims=True)                                  # [n, m] softmax
avg = (alpha[:, :, None] * test.segments).sum(1)                      # [n, d] weighted average
pred = ((avg[:, None, :] - means) ** 2).sum(-1).argmin(1)             # nearest class mean
r = sdc.rates(alpha, test.fg_index, test.labels, pred)
print(f"FTPT {r['ftpt']:.2f} FFPT {r['ffpt']:.2f} FTPF {r['ftpf']:.2f} FFPF {r['ffpf']:.2f}")
out = sys.argv[1] if len(sys.argv) > 1 else "outputs.npz"
np.savez(out, alpha=alpha, predictions=pred, labels=test.labels, fg_index=test.fg_index)
