"""Train a PyTorch attention model on an sdc dataset and score its interpretability with sdc.

    sdc data gen --out data                         # train.sdc, test.sdc (Dataset 2)
    sdc data export data/train.sdc --out train.npz  # or sdc.generate(...) in Python
    sdc data export data/test.sdc --out test.npz
    python examples/torch_attention.py train.npz test.npz --out outputs.npz
    sdc score --alpha outputs.npz --out score       # the same FTPT/FFPT, plus summary.json

The model is sdc's Architecture 2 at averaging layer 0: a focus network f scores each segment,
softmax turns the scores into weights alpha, and a classifier g reads the alpha-weighted
average of the segments. Its module names match `sdc export-weights`, so
`--weights RUN/model.safetensors` loads a network sdc trained instead of training one.
Needs torch (and safetensors for --weights); not run in CI. See docs/python.md.
"""

import argparse

import numpy as np
import torch
from torch import nn

import sdc


class Mlp(nn.Module):
    """ReLU hidden layers and one linear output, named like sdc's networks."""

    def __init__(self, d_in: int, hidden: list, d_out: int):
        super().__init__()
        widths = [d_in, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.output = nn.Linear(widths[-1], d_out)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.output(x)


class AttentionModel(nn.Module):
    """Focus f, softmax attention over segments, weighted average, classifier g."""

    def __init__(self, d: int, n_classes: int, hidden=(6, 12)):
        super().__init__()
        self.focus = Mlp(d, list(hidden), 1)
        self.classifier = Mlp(d, list(hidden), n_classes)

    def forward(self, x):  # x: [batch, m, d]
        alpha = torch.softmax(self.focus(x).squeeze(-1), dim=1)  # [batch, m]
        averaged = (alpha.unsqueeze(-1) * x).sum(1)  # [batch, d]
        return self.classifier(averaged), alpha


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", help="training set, .npz or .sdc")
    parser.add_argument("test", help="test set, .npz or .sdc")
    parser.add_argument("--weights", help="an sdc-trained model.safetensors instead of training")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--out", default="outputs.npz")
    args = parser.parse_args()

    train, test = sdc.load(args.train), sdc.load(args.test)
    torch.manual_seed(0)
    model = AttentionModel(d=train.segments.shape[2], n_classes=train.n_classes)
    if args.weights:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.weights))
    else:
        x, y = torch.from_numpy(train.segments), torch.from_numpy(train.labels)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
        for epoch in range(args.epochs):
            for batch in torch.randperm(len(train)).split(250):
                logits, _ = model(x[batch])
                loss = nn.functional.cross_entropy(logits, y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()

    with torch.no_grad():
        logits, alpha = model(torch.from_numpy(test.segments))
    alpha, pred = alpha.numpy(), logits.argmax(1).numpy()
    s = sdc.summarize(alpha, test.fg_index, test.labels, pred)
    r = s["rates"]
    print(f"accuracy {s['accuracy']:.2f}  FTPT {r['ftpt']:.2f}  FFPT {r['ffpt']:.2f}  "
          f"FTPF {r['ftpf']:.2f}  FFPF {r['ffpf']:.2f}")
    np.savez(args.out, alpha=alpha, predictions=pred, labels=test.labels, fg_index=test.fg_index)


if __name__ == "__main__":
    main()
