#!/usr/bin/env python3
"""PyTorch baseline for `cargo xtask bench --vs pytorch`.

Trains the same synthetic attention model as sdc (paper-spec 2, Dataset 2 Architecture 2) on the
same `.sdc` file, and prints ONE JSON line: training samples/s over forward + backward + both
optimiser steps (after warm-up epochs, no evaluation) and the process's peak RSS.

    bench/.venv/bin/python bench/pytorch/bench.py --data target/bench/data/synthetic/train.sdc \
        --model synthetic-layer0 --batch-size 256 --threads 2 --epochs 5

Linux only (peak RSS is `ru_maxrss`, in KiB on Linux).
"""

import argparse
import json
import os
import platform
import resource
import struct
import sys
import time
import zlib

import numpy as np
import torch
from torch import nn

# The `.sdc` layout (crates/sdc-data/src/format.rs), all integers little-endian:
# magic, u32 version, u32 header length h, h bytes of JSON, f32 segments [n, m, d], u32 labels [n],
# u32 fg_index [n], u32 CRC32 of every byte before it.
MAGIC = b"SDCDATA\0"
FORMAT_VERSION = 1
PREFIX_LEN = 16
CRC_LEN = 4


def load_sdc(path):
    """Returns (segments float32 [n, m, d], labels int64 [n], header dict); checks every field."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < PREFIX_LEN + CRC_LEN or data[:8] != MAGIC:
        sys.exit(f"{path}: not an .sdc file (bad magic or shorter than {PREFIX_LEN + CRC_LEN} bytes)")
    version, header_len = struct.unpack_from("<II", data, 8)
    if version != FORMAT_VERSION:
        sys.exit(f"{path}: format version {version}; this script reads {FORMAT_VERSION}")
    header_end = PREFIX_LEN + header_len
    if header_end + CRC_LEN > len(data):
        sys.exit(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(data[PREFIX_LEN:header_end])
    n, m, d = header["n_samples"], header["n_segments"], header["dim"]
    expected = header_end + 4 * (n * m * d + 2 * n) + CRC_LEN
    if expected != len(data):
        sys.exit(f"{path}: {len(data)} bytes; n={n}, m={m}, d={d} needs {expected}")
    (stored,) = struct.unpack_from("<I", data, len(data) - CRC_LEN)
    computed = zlib.crc32(data[: len(data) - CRC_LEN]) & 0xFFFFFFFF
    if stored != computed:
        sys.exit(f"{path}: CRC32 mismatch (stored {stored:#010x}, computed {computed:#010x})")
    cells = n * m * d
    segments = np.frombuffer(data, dtype="<f4", count=cells, offset=header_end).reshape(n, m, d)
    labels = np.frombuffer(data, dtype="<u4", count=n, offset=header_end + 4 * cells)
    return segments.astype(np.float32), labels.astype(np.int64), header


def mlp(widths, out):
    """Dense layers widths[0] -> ... -> out, ReLU between them (PyTorch default init, as sdc's
    `init = "default"`)."""
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out))
    return nn.Sequential(*layers)


class FocusNet(nn.Module):
    """f: R^d -> R, applied to every segment; also returns tanh of the pre-activation of hidden
    layer k when k >= 1 (paper-spec 2: tanh features, ReLU on the score path)."""

    def __init__(self, d, hidden):
        super().__init__()
        widths = [d] + hidden
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.output = nn.Linear(widths[-1], 1)

    def forward(self, x, k):
        features = None
        h = x
        for i, layer in enumerate(self.hidden):
            pre = layer(h)
            if i + 1 == k:
                features = torch.tanh(pre)
            h = torch.relu(pre)
        return self.output(h), features


class AttentionModel(nn.Module):
    """Focus net over all batch x m segments at once (as sdc does), softmax over the m segments,
    weighted average of the segments (k = 0) or of the focus features (k >= 1), classifier."""

    def __init__(self, d, n_classes, k, focus_hidden, classifier_hidden):
        super().__init__()
        self.k = k
        self.focus = FocusNet(d, focus_hidden)
        width = d if k == 0 else focus_hidden[k - 1]
        self.classifier = mlp([width] + classifier_hidden, n_classes)

    def forward(self, x):  # x: [batch, m, d]
        batch, m, d = x.shape
        scores, features = self.focus(x.reshape(batch * m, d), self.k)
        alpha = torch.softmax(scores.reshape(batch, m), dim=1)  # [batch, m]
        feats = x if features is None else features.reshape(batch, m, -1)  # [batch, m, width]
        averaged = (feats * alpha.unsqueeze(2)).sum(dim=1)  # [batch, width]
        return self.classifier(averaged)


# The models `cargo xtask bench` knows, by name: (averaging layer, focus hidden, classifier hidden).
# Extension point: a new model (e.g. the mnist-mosaic CNN) adds an entry here and a builder.
MODELS = {
    "synthetic-layer0": (0, [6, 12], [6, 12]),
    "synthetic-layer1": (1, [6, 12], [6, 12]),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the train .sdc file")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs")
    p.add_argument("--warmup-epochs", type=int, default=1, help="untimed epochs first")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    segments, labels, header = load_sdc(args.data)
    x_all = torch.from_numpy(segments)  # [n, m, d] float32
    y_all = torch.from_numpy(labels)  # [n] int64
    n, _, d = x_all.shape
    k, focus_hidden, classifier_hidden = MODELS[args.model]
    model = AttentionModel(d, header["n_classes"], k, focus_hidden, classifier_hidden)
    # One Adam per network, both step after one backward pass (paper-spec 5, joint training).
    opt_focus = torch.optim.Adam(model.focus.parameters(), lr=args.lr, eps=args.eps)
    opt_classifier = torch.optim.Adam(model.classifier.parameters(), lr=args.lr, eps=args.eps)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)

    def epoch():
        """One shuffled epoch; reads the loss every step, as sdc's loop (and the paper's) does."""
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        for start in range(0, n, args.batch_size):
            idx = order[start : start + args.batch_size]
            logits = model(x_all[idx])
            loss = loss_fn(logits, y_all[idx])
            opt_focus.zero_grad()
            opt_classifier.zero_grad()
            loss.backward()
            opt_focus.step()
            opt_classifier.step()
            loss_sum += loss.item()
        return loss_sum

    model.train()
    for _ in range(args.warmup_epochs):
        epoch()
    started = time.perf_counter()
    last_loss_sum = 0.0
    for _ in range(args.epochs):
        last_loss_sum = epoch()
    seconds = time.perf_counter() - started
    samples = n * args.epochs
    steps = -(-n // args.batch_size) * args.epochs
    print(
        json.dumps(
            {
                "framework": "pytorch",
                "model": args.model,
                "batch_size": args.batch_size,
                "threads": args.threads,
                "epochs": args.epochs,
                "warmup_epochs": args.warmup_epochs,
                "steps": steps,
                "samples": samples,
                "seconds": seconds,
                "samples_per_second": samples / seconds,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "threads_seen": len(os.listdir("/proc/self/task")),
                "final_mean_loss": last_loss_sum / -(-n // args.batch_size),
                "versions": {
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
