#!/usr/bin/env python3
"""An independent PyTorch reference trainer of sdc's protocol, for `cargo xtask parity --vs pytorch`.

    bench/.venv/bin/python bench/pytorch/reference.py --config RUN/config.toml \\
        --train DATA/train.sdc --test DATA/test.sdc --out RESULT.json [--threads 1]

`--config` is the resolved `config.toml` of an sdc run directory (docs/run-directories.md); the
data are the same `.sdc` files sdc trains on. The model, the optimiser, the stop rule and the
evaluation follow the paper's protocol as sdc implements it (docs/paper-notes.md), written here
from scratch in PyTorch; only the random numbers differ (PyTorch's generator, not sdc's streams):

- Model (docs/paper-notes.md, Model): focus MLP `f` (ReLU hidden layers, one score per segment),
  attention map over the m segments, `alpha`-weighted average of the raw segments (averaging
  layer k = 0) or of `tanh` of focus hidden layer k's pre-activation (k >= 1), classification MLP
  `g` on the average. Maps: softmax (the paper's), sparsemax (Martins & Astudillo 2016; the
  paper's Sec. 7) and 1.5-entmax, both from their sort-based closed forms with autograd through
  the threshold, and spherical softmax `s_j^2 / sum_i s_i^2` (uniform on an all-zero row).
- Initialisation (docs/paper-notes.md, Initialisation and seeding): `init = "default"` is
  `nn.Linear`'s own; `xavier-normal` is `xavier_normal_` weights and zero biases;
  `functionally-zero` (focus only) is xavier-normal with the last hidden layer's second half of
  units a copy of the first and the output's second half of weights minus the first, output bias
  0, so `f = 0` and `alpha = 1/m` at the start. `model.init_seeding = "independent"` (default)
  seeds `torch.manual_seed(train.seed)` once and builds the focus then the classifier from that
  stream; `"shared"` seeds before building each network, as the paper's code did.
- Training (docs/paper-notes.md, Training): one optimiser per network (Adam with betas
  0.9/0.999 and `eps`, or SGD with undampened momentum), both built once, so their state lasts
  the whole run; every epoch a fresh shuffle (`torch.randperm` from a `torch.Generator` seeded
  with `train.seed`), mini-batches of `batch_size`, one backward pass per batch, then the
  optimisers of the networks the schedule names step (`joint`: both; `alternating {every,
  first}`: with e = epoch - 1, `first` when e mod 2*every < every, else the other). The loss is
  the mean cross-entropy, or `(1 - w) CE + w mean H(alpha)` with `train.entropy = w` (the paper's
  Sec. 7).
- Stop rule: after every epoch the training set is re-evaluated in dataset order in batches of
  the evaluation batch size (`eval.batch_size`, 0 = `train.batch_size`); the mean of the batch
  losses (their sum over `n_batches - 1` with `stop.paper_quirk`) at most `stop.loss` stops.
- Divergence, as sdc: a non-finite mini-batch loss or training-set loss ends the run; so does,
  at the last epoch, a training loss above 10x the first mini-batch loss at accuracy within 10
  points of chance. The result then has `"stop_reason": "diverged"`, null metrics and
  `"diverged": {"epoch", "reason"}`; the script still exits 0 (a result, not a crash).
- Evaluation of the final model (the one after the last epoch), on both splits, without
  gradients: accuracy (argmax of the logits) and the four cells FTPT, FFPT, FTPF, FFPF in
  percent, focus true when the first argmax of alpha (read as float32, NaN never wins) is the
  mosaic's foreground index J (docs/paper-notes.md, Metrics), and the mean cross-entropy per sample.

Everything is float32 unless `train.precision = "f64"`. A key or value this script does not
implement (convolutions, other objectives, frozen or pretrained networks, a threshold focus
criterion, ...) is refused with an error naming it; keys that cannot change the numbers
(`name`, `[data]`, `train.backend`, `train.checkpoint_every`) are ignored.

Output, written atomically: `{"schema": "sdc-parity-reference/1", "seed", "epochs",
"stop_reason": "loss" | "max_epochs" | "diverged", "train": {accuracy, ftpt, ffpt, ftpf, ffpf,
loss}, "test": {...}, "torch", "threads", "seconds"}`.
"""

import argparse
import json
import math
import sys
import time
import tomllib

import numpy as np
import torch
from torch import nn

from sdcfile import SdcFormatError, read_sdc, write_atomic

SCHEMA = "sdc-parity-reference/1"

DTYPES = {"f32": torch.float32, "f64": torch.float64}

# sdc's divergence rule (crates/sdc-train/src/training.rs).
DIVERGED_LOSS_RATIO = 10.0
DIVERGED_ACCURACY_MARGIN = 10.0


class ConfigError(Exception):
    """A configuration this script cannot train: the message names the key and the value."""


# ---------------------------------------------------------------------------------------------
# Configuration: the subset of sdc's ExperimentConfig implemented here, with sdc's defaults.


def _refuse(key, value, accepted):
    if value is None:
        raise ConfigError(f"{key} is missing (expected: {accepted})")
    shown = json.dumps(value, default=str)
    raise ConfigError(f"{key} = {shown} is not supported by the reference trainer (accepted: {accepted})")


def _check_keys(table, known, prefix):
    """Refuses any key of `table` outside `known`, naming it with its dotted path."""
    for key in table:
        if key not in known:
            _refuse(f"{prefix}{key}", table[key], "keys " + ", ".join(sorted(known)))


def _int(table, key, prefix, default, minimum=0):
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _refuse(prefix + key, value, f"an integer >= {minimum}")
    return value


def _float(table, key, prefix, default, ok, accepted):
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(float(value)):
        _refuse(prefix + key, value, accepted)
    return float(value)


def _bool(table, key, prefix, default):
    value = table.get(key, default)
    if not isinstance(value, bool):
        _refuse(prefix + key, value, "true or false")
    return value


def _choice(table, key, prefix, default, choices):
    value = table.get(key, default)
    if value not in choices:
        _refuse(prefix + key, value, " | ".join(choices))
    return value


def _table(table, key, prefix):
    value = table.get(key, {})
    if not isinstance(value, dict):
        _refuse(prefix + key, value, "a table")
    return value


def _network(table, prefix, inits):
    _check_keys(table, {"hidden", "bias", "init", "conv", "global_pool"}, prefix)
    if table.get("conv", []) != []:
        _refuse(prefix + "conv", table["conv"], "[] (convolutional networks are not implemented)")
    if table.get("global_pool", False) is not False:
        _refuse(prefix + "global_pool", table["global_pool"], "false")
    hidden = table.get("hidden")
    if not isinstance(hidden, list) or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
        _refuse(prefix + "hidden", hidden, "a list of widths >= 1")
    return {
        "hidden": hidden,
        "bias": _bool(table, "bias", prefix, True),
        "init": _choice(table, "init", prefix, "default", inits),
    }


def parse_config(config):
    """The settings reference.py trains with, from a parsed sdc `config.toml`; raises
    ConfigError naming the first key or value it does not implement."""
    _check_keys(config, {"name", "data", "model", "train", "eval"}, "")
    model = _table(config, "model", "")
    _check_keys(model, {"focus", "classifier", "averaging_layer", "attention", "init_seeding"}, "model.")
    focus = _network(_table(model, "focus", "model."), "model.focus.", ["default", "xavier-normal", "functionally-zero"])
    classifier = _network(_table(model, "classifier", "model."), "model.classifier.", ["default", "xavier-normal"])
    k = _int(model, "averaging_layer", "model.", 0)
    if k > len(focus["hidden"]):
        _refuse("model.averaging_layer", k, f"0..={len(focus['hidden'])} (the focus network's hidden layers)")
    if focus["init"] == "functionally-zero" and (not focus["hidden"] or focus["hidden"][-1] % 2):
        _refuse("model.focus.init", "functionally-zero", "a focus network whose last hidden width is even")
    attention = _table(model, "attention", "model.")
    _check_keys(attention, {"kind", "temperature"}, "model.attention.")
    attention_kind = _choice(attention, "kind", "model.attention.", "softmax", list(ATTENTION_MAPS))
    temperature = _float(
        attention, "temperature", "model.attention.", 1.0, lambda t: math.isfinite(t) and t > 0, "a finite number > 0"
    )
    seeding = _choice(model, "init_seeding", "model.", "independent", ["independent", "shared"])

    train = _table(config, "train", "")
    _check_keys(
        train,
        {
            "optimizer", "batch_size", "max_epochs", "entropy", "stop", "seed", "precision", "backend",
            "eval_every", "checkpoint_every", "objective", "schedule", "freeze", "init_from", "pretrain",
        },
        "train.",
    )  # fmt: skip
    for key in ("freeze", "init_from", "pretrain"):
        if key in train and train[key] not in ([], {}):
            _refuse(f"train.{key}", train[key], "absent or empty (not implemented)")
    optimizer = _table(train, "optimizer", "train.")
    kind = _choice(optimizer, "kind", "train.optimizer.", None, ["adam", "sgd"])
    positive = (lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
    if kind == "adam":
        _check_keys(optimizer, {"kind", "lr", "eps"}, "train.optimizer.")
        opt = {"kind": "adam", "eps": _float(optimizer, "eps", "train.optimizer.", 1e-8, *positive)}
    else:
        _check_keys(optimizer, {"kind", "lr", "momentum"}, "train.optimizer.")
        opt = {
            "kind": "sgd",
            "momentum": _float(optimizer, "momentum", "train.optimizer.", 0.0, lambda v: 0 <= v < 1, "in [0, 1)"),
        }
    opt["lr"] = _float(optimizer, "lr", "train.optimizer.", None, *positive)
    stop = None
    if "stop" in train:
        table = _table(train, "stop", "train.")
        _check_keys(table, {"loss", "paper_quirk"}, "train.stop.")
        stop = {
            "loss": _float(table, "loss", "train.stop.", None, lambda v: math.isfinite(v) and v >= 0, "a number >= 0"),
            "paper_quirk": _bool(table, "paper_quirk", "train.stop.", False),
        }
    objective = _table(train, "objective", "train.")
    _check_keys(objective, {"kind"}, "train.objective.")
    _choice(objective, "kind", "train.objective.", "soft", ["soft"])
    schedule = _table(train, "schedule", "train.")
    schedule_kind = _choice(schedule, "kind", "train.schedule.", "joint", ["joint", "alternating"])
    if schedule_kind == "joint":
        _check_keys(schedule, {"kind"}, "train.schedule.")
        sched = {"kind": "joint"}
    else:
        _check_keys(schedule, {"kind", "every", "first"}, "train.schedule.")
        sched = {
            "kind": "alternating",
            "every": _int(schedule, "every", "train.schedule.", None, minimum=1),
            "first": _choice(schedule, "first", "train.schedule.", None, ["focus", "classifier"]),
        }
    batch_size = _int(train, "batch_size", "train.", 250, minimum=1)

    evaluation = _table(config, "eval", "")
    _check_keys(evaluation, {"focus", "batch_size"}, "eval.")
    criterion = _table(evaluation, "focus", "eval.")
    _check_keys(criterion, {"kind"}, "eval.focus.")
    _choice(criterion, "kind", "eval.focus.", "argmax", ["argmax"])
    eval_batch = _int(evaluation, "batch_size", "eval.", 0)

    return {
        "focus": focus,
        "classifier": classifier,
        "averaging_layer": k,
        "attention": attention_kind,
        "temperature": temperature,
        "init_seeding": seeding,
        "optimizer": opt,
        "batch_size": batch_size,
        "max_epochs": _int(train, "max_epochs", "train.", None, minimum=1),
        "entropy": _float(train, "entropy", "train.", 0.0, lambda v: 0 <= v < 1, "in [0, 1)"),
        "stop": stop,
        "seed": _int(train, "seed", "train.", 0),
        "precision": _choice(train, "precision", "train.", "f32", ["f32", "f64"]),
        "eval_every": _int(train, "eval_every", "train.", 1, minimum=1),
        "schedule": sched,
        "eval_batch_size": eval_batch if eval_batch > 0 else batch_size,
    }


# ---------------------------------------------------------------------------------------------
# Attention maps: scores [batch, m] -> weights [batch, m], rows on the simplex.


def sparsemax(z):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection of each row of z [batch, m]
    onto the simplex, `[z - tau]_+` with `tau = max_k (sum_{i<=k} z_(i) - 1) / k` over the
    scores sorted in decreasing order (the maximum is reached at the support size). Autograd
    through `tau` gives the closed-form Jacobian: on the support, g - mean_support(g)."""
    z = z - z.max(dim=1, keepdim=True).values.detach()
    sorted_z = torch.sort(z, dim=1, descending=True).values
    k = torch.arange(1, z.shape[1] + 1, dtype=z.dtype, device=z.device)
    tau = ((sorted_z.cumsum(dim=1) - 1) / k).max(dim=1, keepdim=True).values
    return torch.clamp(z - tau, min=0)


def entmax15(z):
    """1.5-entmax (Peters, Niculae & Martins 2019) of each row of z [batch, m]: with y = z/2,
    `[y - tau]_+^2` where tau solves sum_i [y_i - tau]_+^2 = 1; for support size k over the sorted
    y, tau_k = mean_k - sqrt((1 - k (meansq_k - mean_k^2)) / k), and the support is the k's with
    tau_k <= y_(k) (the exact sort-based algorithm). Autograd through the support's tau."""
    y = (z - z.max(dim=1, keepdim=True).values.detach()) / 2
    sorted_y = torch.sort(y, dim=1, descending=True).values
    k = torch.arange(1, z.shape[1] + 1, dtype=z.dtype, device=z.device)
    mean = sorted_y.cumsum(dim=1) / k
    mean_sq = (sorted_y**2).cumsum(dim=1) / k
    delta = (1 - k * (mean_sq - mean**2)) / k
    tau_k = mean - torch.sqrt(torch.clamp(delta, min=0))
    support = (tau_k <= sorted_y).sum(dim=1, keepdim=True)
    tau = tau_k.gather(1, support - 1)
    return torch.clamp(y - tau, min=0) ** 2


def spherical(s):
    """Spherical softmax `alpha_j = s_j^2 / sum_i s_i^2` of each row of s [batch, m] (the paper's
    Sec. 7); an all-zero row gets uniform weights. Rows are first divided by their largest |s|
    (detached; the ratio is scale-invariant), so the squares cannot overflow."""
    scale = s.abs().max(dim=1, keepdim=True).values.detach()
    zero_row = scale == 0
    squares = (s / torch.where(zero_row, torch.ones_like(scale), scale)) ** 2
    total = squares.sum(dim=1, keepdim=True)
    ratio = squares / torch.where(zero_row, torch.ones_like(total), total)
    return torch.where(zero_row, torch.full_like(ratio, 1.0 / s.shape[1]), ratio)


ATTENTION_MAPS = {
    "softmax": lambda z: torch.softmax(z, dim=1),
    "sparsemax": sparsemax,
    "entmax15": entmax15,
    "spherical": spherical,
}


def mean_entropy(kind, scores, alpha):
    """Mean attention entropy (natural log) over the batch: from log_softmax for softmax, else
    `-sum alpha log alpha` with 0 log 0 = 0 (the log's argument clamped at the smallest normal
    float32, as sdc does)."""
    if kind == "softmax":
        log_alpha = torch.log_softmax(scores, dim=1)
    else:
        log_alpha = torch.log(torch.clamp(alpha, min=np.finfo(np.float32).tiny))
    return -(alpha * log_alpha).sum(dim=1).mean()


# ---------------------------------------------------------------------------------------------
# Model.


def _layers(widths, n_out, bias):
    """nn.Linear layers widths[0] -> ... -> widths[-1] -> n_out, built (and so drawn) in order."""
    hidden = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(widths, widths[1:]))
    return hidden, nn.Linear(widths[-1], n_out, bias=bias)


def _xavier_normal(layers):
    """Redraws each layer as xavier-normal weights and zero biases (sdc's `xavier-normal`)."""
    with torch.no_grad():
        for layer in layers:
            nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                layer.bias.zero_()


class FocusNet(nn.Module):
    """f: [n, d] -> [n, 1], ReLU hidden layers; also returns tanh of hidden layer k's
    pre-activation when k >= 1 (docs/paper-notes.md, Model)."""

    def __init__(self, d, hidden, bias, init):
        super().__init__()
        self.hidden, self.output = _layers([d] + hidden, 1, bias)
        if init != "default":
            _xavier_normal(list(self.hidden) + [self.output])
        if init == "functionally-zero":
            last = self.hidden[-1]
            half = last.out_features // 2
            with torch.no_grad():
                last.weight[half:] = last.weight[:half]
                if last.bias is not None:
                    last.bias[half:] = last.bias[:half]
                self.output.weight[:, half:] = -self.output.weight[:, :half]
                if self.output.bias is not None:
                    self.output.bias.zero_()

    def forward(self, x, k):
        features = None
        h = x
        for i, layer in enumerate(self.hidden):
            pre = layer(h)
            if i + 1 == k:
                features = torch.tanh(pre)
            h = torch.relu(pre)
        return self.output(h), features


class ClassifierNet(nn.Module):
    """g: [n, width] -> [n, classes], ReLU hidden layers."""

    def __init__(self, width, hidden, n_classes, bias, init):
        super().__init__()
        self.hidden, self.output = _layers([width] + hidden, n_classes, bias)
        if init != "default":
            _xavier_normal(list(self.hidden) + [self.output])

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.output(x)


class AttentionModel(nn.Module):
    """Focus over all batch x m segments, attention map over the m segments, alpha-weighted
    average at layer k, classifier."""

    def __init__(self, settings, d, n_classes):
        super().__init__()
        f, g = settings["focus"], settings["classifier"]
        self.k = settings["averaging_layer"]
        self.kind = settings["attention"]
        self.map = ATTENTION_MAPS[self.kind]
        self.temperature = settings["temperature"]
        seed = settings["seed"]
        torch.manual_seed(seed)
        self.focus = FocusNet(d, f["hidden"], f["bias"], f["init"])
        if settings["init_seeding"] == "shared":
            # docs/paper-notes.md, Initialisation and seeding: the paper's code re-seeds per network.
            torch.manual_seed(seed)
        width = d if self.k == 0 else f["hidden"][self.k - 1]
        self.classifier = ClassifierNet(width, g["hidden"], n_classes, g["bias"], g["init"])

    def forward(self, x):
        """x [batch, m, d] -> logits [batch, classes], alpha [batch, m], scores [batch, m]."""
        batch, m, d = x.shape
        scores, features = self.focus(x.reshape(batch * m, d), self.k)
        scores = scores.reshape(batch, m)
        # Spherical softmax is scale-invariant: sdc skips the temperature there too.
        scaled = scores if self.temperature == 1.0 or self.kind == "spherical" else scores / self.temperature
        alpha = self.map(scaled)
        feats = x if features is None else features.reshape(batch, m, -1)
        averaged = (feats * alpha.unsqueeze(2)).sum(dim=1)
        return self.classifier(averaged), alpha, scaled


# ---------------------------------------------------------------------------------------------
# Training and evaluation.


def argmax_first(rows):
    """First index of each row's maximum, NaN never winning (an all-NaN row gives 0)."""
    rows = np.where(np.isnan(rows), -np.inf, rows)
    return np.argmax(rows, axis=1)


def evaluate(model, x, y, fg_index, batch_size):
    """Metrics of `model` on one split, in dataset order in batches of `batch_size`: the
    percentages, the mean cross-entropy per sample, and the batch losses the stop rule reads."""
    n = x.shape[0]
    predictions, alphas, batch_losses = [], [], []
    loss_sum = 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            logits, alpha, _ = model(xb)
            loss = nn.functional.cross_entropy(logits, yb).item()
            batch_losses.append(loss)
            loss_sum += loss * len(yb)
            predictions.append(logits.argmax(dim=1).numpy())
            # sdc reads alpha as float32 before taking the argmax, whatever the precision.
            alphas.append(alpha.to(torch.float32).numpy())
    model.train()
    predicted = np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)
    alpha = np.concatenate(alphas) if alphas else np.zeros((0, 1), dtype=np.float32)
    pred_true = predicted == y.numpy()
    focus_true = argmax_first(alpha) == fg_index
    percent = (lambda c: 100.0 * float(c) / n) if n else (lambda c: 0.0)
    metrics = {
        "accuracy": percent(pred_true.sum()),
        "ftpt": percent((focus_true & pred_true).sum()),
        "ffpt": percent((~focus_true & pred_true).sum()),
        "ftpf": percent((focus_true & ~pred_true).sum()),
        "ffpf": percent((~focus_true & ~pred_true).sum()),
        "loss": loss_sum / n if n else 0.0,
    }
    return metrics, batch_losses


def stop_rule_loss(batch_losses, paper_quirk):
    """The mean of the batch losses, or their sum over n_batches - 1 with the paper's quirk
    (docs/paper-notes.md, Training)."""
    n = len(batch_losses)
    if n == 0:
        return 0.0
    return sum(batch_losses) / (n - 1 if paper_quirk and n > 1 else n)


def updates(schedule, network, epoch):
    """Whether `network` ("focus" or "classifier") steps in 1-based `epoch`."""
    if schedule["kind"] == "joint":
        return True
    every, first = schedule["every"], schedule["first"]
    active = first if (epoch - 1) % (2 * every) < every else ("classifier" if first == "focus" else "focus")
    return active == network


def make_optimizer(settings, params):
    opt = settings["optimizer"]
    if opt["kind"] == "adam":
        return torch.optim.Adam(params, lr=opt["lr"], betas=(0.9, 0.999), eps=opt["eps"])
    return torch.optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"], dampening=0.0)


def divergence(metrics, start_loss, n_classes):
    """sdc's rule: the reason training diverged, or None."""
    if not math.isfinite(metrics["loss"]) or not math.isfinite(metrics["accuracy"]):
        return f"the training-set loss is {metrics['loss']}"
    chance = 100.0 / max(n_classes, 1)
    if metrics["loss"] > DIVERGED_LOSS_RATIO * start_loss and metrics["accuracy"] <= chance + DIVERGED_ACCURACY_MARGIN:
        return (
            f"the training loss grew from {start_loss:.4f} to {metrics['loss']:.4f} and accuracy is "
            f"{metrics['accuracy']:.1f}% (chance {chance:.1f}%)"
        )
    return None


class Diverged(Exception):
    """Training diverged at `epoch` for `reason`."""

    def __init__(self, epoch, reason):
        super().__init__(reason)
        self.epoch = epoch
        self.reason = reason


def train(settings, train_split, n_classes):
    """Trains a fresh model; returns (model, epochs, stop_reason). Raises Diverged."""
    dtype = DTYPES[settings["precision"]]
    x = torch.from_numpy(train_split.segments).to(dtype)
    y = torch.from_numpy(train_split.labels)
    n, _, d = x.shape
    # Drawn in float32 (nn.Linear's default), then converted, as `.double()` after building does.
    model = AttentionModel(settings, d, n_classes).to(dtype)
    optimizers = {
        "focus": make_optimizer(settings, model.focus.parameters()),
        "classifier": make_optimizer(settings, model.classifier.parameters()),
    }
    generator = torch.Generator().manual_seed(settings["seed"])
    batch_size, max_epochs, stop = settings["batch_size"], settings["max_epochs"], settings["stop"]
    entropy_weight = settings["entropy"]
    start_loss = None
    model.train()
    for epoch in range(1, max_epochs + 1):
        stepping = [name for name in ("focus", "classifier") if updates(settings["schedule"], name, epoch)]
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            logits, alpha, scores = model(x[idx])
            loss = nn.functional.cross_entropy(logits, y[idx])
            if entropy_weight != 0.0:
                loss = (1 - entropy_weight) * loss + entropy_weight * mean_entropy(model.kind, scores, alpha)
            value = loss.item()
            if not math.isfinite(value):
                raise Diverged(epoch, f"the mini-batch loss is {value}")
            if start_loss is None:
                start_loss = value
            for optimizer in optimizers.values():
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for name in stepping:
                optimizers[name].step()
        if stop is not None or epoch % settings["eval_every"] == 0 or epoch == max_epochs:
            metrics, batch_losses = evaluate(
                model, x, y, train_split.fg_index, settings["eval_batch_size"]
            )
            reason = divergence(metrics, start_loss, n_classes)
            if reason is not None and (not math.isfinite(metrics["loss"]) or epoch == max_epochs):
                raise Diverged(epoch, reason)
            if stop is not None and stop_rule_loss(batch_losses, stop["paper_quirk"]) <= stop["loss"]:
                return model, epoch, "loss"
    return model, max_epochs, "max_epochs"


def run(config_path, train_path, test_path, out_path, threads):
    """Trains and evaluates one configuration; writes and returns the result object."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    with open(config_path, "rb") as f:
        try:
            config = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{config_path}: not valid TOML: {e}") from e
    try:
        settings = parse_config(config)
    except ConfigError as e:
        raise ConfigError(f"{config_path}: {e}") from e
    train_split, test_split = read_sdc(train_path), read_sdc(test_path)
    for path, split in ((train_path, train_split), (test_path, test_split)):
        if split.segments.ndim != 3:
            raise ConfigError(f"{path}: image segments {list(split.segments.shape[2:])} need convolutions, not implemented")
    if train_split.segments.shape[1:] != test_split.segments.shape[1:]:
        raise ConfigError(
            f"{test_path}: segments of shape {list(test_split.segments.shape[1:])}, but {train_path} has "
            f"{list(train_split.segments.shape[1:])}"
        )
    n_classes = int(train_split.header["n_classes"])
    result = {"schema": SCHEMA, "seed": settings["seed"]}
    try:
        model, epochs, stop_reason = train(settings, train_split, n_classes)
        dtype = DTYPES[settings["precision"]]
        splits = {}
        for name, split in (("train", train_split), ("test", test_split)):
            x = torch.from_numpy(split.segments).to(dtype)
            y = torch.from_numpy(split.labels)
            splits[name], _ = evaluate(model, x, y, split.fg_index, settings["eval_batch_size"])
        result.update(epochs=epochs, stop_reason=stop_reason, **splits)
    except Diverged as e:
        result.update(
            epochs=e.epoch, stop_reason="diverged", train=None, test=None, diverged={"epoch": e.epoch, "reason": e.reason}
        )
    result.update(torch=torch.__version__, threads=threads, seconds=time.perf_counter() - started)
    text = json.dumps(result, indent=2, allow_nan=False) + "\n"
    write_atomic(out_path, text.encode())
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="the resolved config.toml of an sdc run directory")
    p.add_argument("--train", required=True, help="the train .sdc file")
    p.add_argument("--test", required=True, help="the test .sdc file")
    p.add_argument("--out", required=True, help="where RESULT.json goes (written atomically)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads {args.threads}: must be >= 1")
    try:
        result = run(args.config, args.train, args.test, args.out, args.threads)
    except (ConfigError, SdcFormatError, OSError) as e:
        print(f"reference.py: {e}", file=sys.stderr)
        return 2
    train_metrics = result["train"] or {}
    print(
        f"{result['epochs']} epochs ({result['stop_reason']}), {result['seconds']:.1f} s: "
        f"train accuracy {train_metrics.get('accuracy', float('nan')):.2f}, FTPT {train_metrics.get('ftpt', float('nan')):.2f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
