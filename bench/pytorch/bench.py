#!/usr/bin/env python3
"""PyTorch baseline for `cargo xtask bench --vs pytorch`.

Trains the same attention model as sdc on the same `.sdc` file, and prints ONE JSON line:
training samples/s over forward + backward + both optimiser steps (after warm-up epochs, no
evaluation) and the process's peak RSS. Models (`MODELS`): the synthetic MLP models (Dataset 2,
Architecture 2) and the CNNs of configs/mnist-mosaic.toml and configs/cifar10-mosaic.toml.
`--device cuda` trains on the GPU, in f32 throughout (TF32 off, as sdc's wgpu backend computes
in f32), each mini-batch copied from host memory as sdc does.

    bench/.venv/bin/python bench/pytorch/bench.py --data target/bench/data/dataset2/train.sdc \
        --model synthetic-layer0 --batch-size 256 --threads 2 --epochs 5
    bench/.venv/bin/python bench/pytorch/bench.py \
        --data target/bench/data/mnist-mosaic/train.sdc --model mnist-mosaic \
        --batch-size 64 --threads 1 --epochs 3

Linux only (peak RSS is `ru_maxrss`, in KiB on Linux).
"""

import argparse
import collections
import json
import os
import platform
import resource
import time

import numpy as np
import torch
from torch import nn

# The `.sdc` reader (the layout is described there), shared with reference.py.
from sdcfile import load_sdc


def mlp(widths, out, bias=True):
    """Dense layers widths[0] -> ... -> out, ReLU between them (PyTorch default init, as sdc's
    `init = "default"`)."""
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b, bias=bias), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out, bias=bias))
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


# One conv block of a config's `conv` list (crates/sdc-model/src/conv.rs, `ConvLayerConfig`).
Block = collections.namedtuple(
    "Block", "channels kernel padding pool pool_padding batch_norm", defaults=(0, True)
)


def conv_stack(c_in, side, blocks, bias=True):
    """sdc's ConvBlock stack (crates/sdc-model/src/conv.rs): per Block, conv (stride 1) ->
    BatchNorm with the batch's statistics in training and evaluation alike
    (track_running_stats=False, eps 1e-5, learnt scale and shift) where the block has it -> ReLU
    -> max-pool (kernel = stride, with the block's padding). Returns the stack and its output
    shape (channels, side) for square inputs."""
    layers = []
    for block in map(lambda b: Block(*b), blocks):
        layers.append(nn.Conv2d(c_in, block.channels, block.kernel, padding=block.padding, bias=bias))
        if block.batch_norm:
            layers.append(nn.BatchNorm2d(block.channels, eps=1e-5, track_running_stats=False))
        layers.append(nn.ReLU())
        side = side + 2 * block.padding - block.kernel + 1
        if block.pool:
            layers.append(nn.MaxPool2d(block.pool, padding=block.pool_padding))
            side = (side + 2 * block.pool_padding - block.pool) // block.pool + 1
        c_in = block.channels
    return nn.Sequential(*layers), (c_in, side)


class ConvNet(nn.Module):
    """sdc's FocusNet / ClassifierNet with convolutions: conv stack, flatten (or the global
    average over positions), dense ReLU layers, a dense output layer."""

    def __init__(self, tile_shape, net, out):
        super().__init__()
        c, h, w = tile_shape
        assert h == w, f"square tiles only, got {tile_shape}"
        bias = net.get("bias", True)
        self.convs, (channels, side) = conv_stack(c, h, net["blocks"], bias)
        self.global_pool = net.get("global_pool", False)
        width = channels if self.global_pool else channels * side * side
        self.dense = mlp([width] + net["hidden"], out, bias)

    def forward(self, x):  # x: [n, c, h, w]
        x = self.convs(x)
        x = x.mean(dim=(2, 3)) if self.global_pool else x.flatten(1)
        return self.dense(x)


class CnnAttentionModel(nn.Module):
    """Focus CNN over all batch x m tiles at once (as sdc does; BatchNorm statistics over all of
    them), softmax over the m tiles, alpha-weighted average of the raw tiles (averaging layer 0),
    classifier CNN on the averaged image."""

    def __init__(self, tile_shape, n_classes, focus, classifier):
        super().__init__()
        self.focus = ConvNet(tile_shape, focus, 1)
        self.classifier = ConvNet(tile_shape, classifier, n_classes)

    def forward(self, x):  # x: [batch, m, c, h, w]
        batch, m = x.shape[:2]
        scores = self.focus(x.reshape(batch * m, *x.shape[2:]))
        alpha = torch.softmax(scores.reshape(batch, m), dim=1)  # [batch, m]
        averaged = (x * alpha.reshape(batch, m, 1, 1, 1)).sum(dim=1)  # [batch, c, h, w]
        return self.classifier(averaged)


def synthetic(k):
    """Dataset 2 Architecture 2 (configs/dataset2-arch2.toml), averaging at layer k."""
    return {
        "optimizer": "adam",
        "lr": 0.01,
        "build": lambda shape, n_classes: AttentionModel(shape[0], n_classes, k, [6, 12], [6, 12]),
    }


def mnist_mosaic():
    """configs/mnist-mosaic.toml: (channels, kernel, padding, pool) blocks, then dense widths."""
    focus = {"blocks": [(8, 3, 0, 2), (16, 3, 0, 2)], "hidden": [32]}
    classifier = {"blocks": [(8, 3, 1, 2), (16, 3, 1, 2)], "hidden": [32]}
    return {
        "optimizer": "adam",
        "lr": 0.001,
        "build": lambda shape, n_classes: CnnAttentionModel(shape, n_classes, focus, classifier),
    }


def cifar10_mosaic():
    """configs/cifar10-mosaic.toml, the paper's CIFAR-10 CNNs: (channels, kernel, padding, pool,
    pool_padding, batch_norm) blocks; the focus network without biases, the classifier with a
    global average pool; SGD with momentum 0.9."""
    focus = {
        "blocks": [
            (32, 3, 0, 0, 0, True),
            (64, 3, 0, 2, 0, False),
            (64, 3, 0, 0, 0, True),
            (128, 3, 0, 2, 0, False),
            (256, 3, 0, 0, 0, True),
            (256, 3, 1, 2, 0, False),
        ],
        "hidden": [64, 32, 10],
        "bias": False,
    }
    classifier = {
        "blocks": [
            (128, 3, 1, 0, 0, True),
            (128, 3, 1, 2, 1, False),
            (256, 3, 1, 0, 0, True),
            (256, 3, 1, 2, 1, False),
            (512, 3, 1, 0, 0, True),
            (512, 3, 1, 2, 1, False),
        ],
        "hidden": [128],
        "global_pool": True,
    }
    return {
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "build": lambda shape, n_classes: CnnAttentionModel(shape, n_classes, focus, classifier),
    }


# The models `cargo xtask bench` knows, by name (xtask/src/bench/models.rs, `BenchModel`): the Adam
# optimiser and learning rate of the config, and a builder from the segment shape ([d] or [c, h, w]) and the
# number of classes. Extension point: a new model adds an entry here.
MODELS = {
    "synthetic-layer0": synthetic(0),
    "synthetic-layer1": synthetic(1),
    "mnist-mosaic": mnist_mosaic(),
    "cifar10-mosaic": cifar10_mosaic(),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the train .sdc file")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs")
    p.add_argument("--warmup-epochs", type=int, default=1, help="untimed epochs first")
    p.add_argument("--lr", type=float, default=None, help="default: the model's config")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if args.device == "cuda":
        # f32 arithmetic, as sdc's wgpu backend; the fastest cuDNN algorithm for the fixed shapes.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    segments, labels, header = load_sdc(args.data)
    x_all = torch.from_numpy(segments)  # [n, m, d] or [n, m, c, h, w] float32
    y_all = torch.from_numpy(labels)  # [n] int64
    n = x_all.shape[0]
    spec = MODELS[args.model]
    model = spec["build"](tuple(x_all.shape[2:]), header["n_classes"]).to(device)
    lr = spec["lr"] if args.lr is None else args.lr

    def optimiser(params):
        if spec["optimizer"] == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=spec["momentum"])
        return torch.optim.Adam(params, lr=lr, eps=args.eps)

    # One optimiser per network, both step after one backward pass (joint training).
    opt_focus = optimiser(model.focus.parameters())
    opt_classifier = optimiser(model.classifier.parameters())
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)

    def epoch():
        """One shuffled epoch; reads the loss every step, as sdc's loop (and the paper's) does."""
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        for start in range(0, n, args.batch_size):
            idx = order[start : start + args.batch_size]
            logits = model(x_all[idx].to(device))
            loss = loss_fn(logits, y_all[idx].to(device))
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
                    **(
                        {"cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name()}
                        if args.device == "cuda"
                        else {}
                    ),
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
