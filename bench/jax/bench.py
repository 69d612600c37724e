#!/usr/bin/env python3
"""JAX baseline for `cargo xtask bench --vs jax`.

Trains the synthetic attention models of bench/pytorch/bench.py (paper-spec 2, Dataset 2
Architecture 2, averaging at layer 0 or 1) on the same `.sdc` file, with the same command line,
and prints ONE JSON line with the same fields: training samples/s over forward + backward + the
Adam update (after warm-up epochs, no evaluation) and the process's peak RSS. The whole training
step (forward, backward, Adam) is one `jax.jit`-compiled function.

`--replicas R` trains R independently initialised models (seeds seed, seed+1, ...) at once:
`jax.vmap` of the training step over the stacked parameters and Adam states, one batched step
per mini-batch (every replica sees the same mini-batches in the same order). The rate reported
is samples/s summed over the replicas (R x mosaics / s), the loss the mean over the replicas.

    bench/.venv-jax/bin/python bench/jax/bench.py --data target/bench/data/dataset2/train.sdc \
        --model synthetic-layer0 --batch-size 250 --threads 1 --epochs 20 --replicas 20

Threads: XLA's CPU backend has no thread-count setting. With `--threads 1` this script sets
`XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` (and the OpenMP /
MKL / OpenBLAS variables) before importing jax, so every operation runs on the calling thread.
With `--threads N` > 1 Eigen stays multi-threaded; its pool is sized to the CPUs this process may
run on, so the script restricts its CPU affinity to N of them when more are allowed (on a
2-core machine `--threads 2` is XLA's default). XLA also starts idle helper threads either way,
which `threads_seen` counts.

The mnist-mosaic CNN is not implemented here (the bench runs it against PyTorch only).

Linux only (peak RSS is `ru_maxrss`, in KiB on Linux; affinity is `os.sched_setaffinity`).
"""

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import sys
import time

# Dataset 2 Architecture 2 (configs/dataset2-arch2.toml): hidden widths of both networks and the
# Adam learning rate, as bench/pytorch/bench.py's `synthetic`.
FOCUS_HIDDEN = [6, 12]
CLASSIFIER_HIDDEN = [6, 12]
SYNTHETIC_LR = 0.01

# The models `cargo xtask bench` knows (xtask/src/bench/models.rs, `BenchModel`): name -> the
# averaging layer k. mnist-mosaic is refused with a message (not implemented in JAX).
MODELS = {"synthetic-layer0": 0, "synthetic-layer1": 1}
REFUSED = {"mnist-mosaic": "the JAX baseline implements the synthetic MLP models only; "
           "mnist-mosaic is measured against PyTorch (--vs pytorch)"}

# Adam's moment decays (PyTorch's and sdc's defaults).
BETA1, BETA2 = 0.9, 0.999


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the train .sdc file")
    p.add_argument("--model", required=True, choices=sorted([*MODELS, *REFUSED]))
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs")
    p.add_argument("--warmup-epochs", type=int, default=1, help="untimed epochs first")
    p.add_argument("--replicas", type=int, default=1, help="models trained at once with jax.vmap")
    p.add_argument("--lr", type=float, default=None, help=f"default: the model's config ({SYNTHETIC_LR})")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.model in REFUSED:
        p.error(f"--model {args.model}: {REFUSED[args.model]}")
    for name in ("batch_size", "threads", "epochs", "replicas"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup_epochs < 0:
        p.error(f"--warmup-epochs must be >= 0, got {args.warmup_epochs}")
    return args


def limit_threads(threads):
    """Bounds XLA's threads; must run before jax is imported (see the module docstring)."""
    if threads == 1:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
    else:
        allowed = sorted(os.sched_getaffinity(0))
        if threads < len(allowed):
            os.sched_setaffinity(0, allowed[:threads])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def sdc_reader():
    """bench/pytorch/sdcfile.py's `load_sdc` (the `.sdc` layout is described there)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
    from sdcfile import load_sdc

    return load_sdc


def build(jax, jnp, d, n_classes, k):
    """(init, loss) of the attention model averaging at layer k, as bench/pytorch/bench.py's
    `AttentionModel`: focus MLP d -> 6 -> 12 -> 1 over all batch x m segments (ReLU on the score
    path, tanh of the pre-activation of hidden layer k as the features when k >= 1), softmax over
    the m segments, alpha-weighted average of the segments (k = 0) or features, classifier MLP
    -> 6 -> 12 -> n_classes with ReLU, mean cross-entropy."""

    def linear_init(key, fan_in, fan_out):
        # PyTorch's nn.Linear default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        bound = 1.0 / fan_in**0.5
        kw, kb = jax.random.split(key)
        w = jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound)
        b = jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)
        return {"w": w, "b": b}

    focus_widths = [d, *FOCUS_HIDDEN, 1]
    width = d if k == 0 else FOCUS_HIDDEN[k - 1]
    classifier_widths = [width, *CLASSIFIER_HIDDEN, n_classes]

    def init(key):
        layers = []
        for widths in (focus_widths, classifier_widths):
            keys = jax.random.split(key, len(widths))
            key = keys[0]
            layers.append([linear_init(kk, a, b) for kk, a, b in zip(keys[1:], widths, widths[1:])])
        return {"focus": layers[0], "classifier": layers[1]}

    def loss(params, x, y):  # x: [batch, m, d] float32, y: [batch] int32
        batch, m, _ = x.shape
        h = x.reshape(batch * m, d)
        features = None
        for i, layer in enumerate(params["focus"][:-1]):
            pre = h @ layer["w"] + layer["b"]
            if i + 1 == k:
                features = jnp.tanh(pre)
            h = jax.nn.relu(pre)
        out = params["focus"][-1]
        scores = (h @ out["w"] + out["b"]).reshape(batch, m)
        alpha = jax.nn.softmax(scores, axis=1)
        feats = x if features is None else features.reshape(batch, m, -1)
        h = jnp.einsum("bm,bmw->bw", alpha, feats)
        for layer in params["classifier"][:-1]:
            h = jax.nn.relu(h @ layer["w"] + layer["b"])
        out = params["classifier"][-1]
        logits = h @ out["w"] + out["b"]
        logp = jax.nn.log_softmax(logits, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return init, loss


def adam(jax, jnp, lr, eps):
    """(init, update) of Adam as torch.optim.Adam computes it (no weight decay). The PyTorch
    baseline has one Adam per network with the same settings; Adam is elementwise, so one over
    all parameters takes the same steps."""

    def init(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return {"t": jnp.zeros((), jnp.float32), "m": zeros, "v": zeros}

    def update(params, grads, state):
        t = state["t"] + 1.0
        m = jax.tree_util.tree_map(lambda m, g: BETA1 * m + (1 - BETA1) * g, state["m"], grads)
        v = jax.tree_util.tree_map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, state["v"], grads)
        step = lr / (1 - BETA1**t)
        root = jnp.sqrt(1 - BETA2**t)
        params = jax.tree_util.tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) / root + eps), params, m, v)
        return params, {"t": t, "m": m, "v": v}

    return init, update


def trainer(jax, jnp, d, n_classes, k, lr, eps, replicas, seed):
    """(params, state, step): the initial parameters and Adam states of `replicas` models
    stacked on a leading axis (seeds seed .. seed + replicas - 1), and the jitted step
    (params, state, x_all, y_all, idx) -> (params, state, losses [replicas]) that trains every
    replica on the mini-batch x_all[idx], y_all[idx] (gathered inside the compiled step)."""
    init, loss = build(jax, jnp, d, n_classes, k)
    opt_init, opt_update = adam(jax, jnp, lr, eps)

    def one_step(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        params, state = opt_update(params, grads, state)
        return params, state, value

    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(seed, seed + replicas))
    params = jax.vmap(init)(keys)
    state = jax.vmap(opt_init)(params)
    replicated = jax.vmap(one_step, in_axes=(0, 0, None, None))

    def step(params, state, x_all, y_all, idx):
        return replicated(params, state, x_all[idx], y_all[idx])

    step = jax.jit(step, donate_argnums=(0, 1))
    return params, state, step


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    import jax
    import jax.numpy as jnp
    import numpy as np

    segments, labels, header = sdc_reader()(args.data)
    if segments.ndim != 3:
        sys.exit(f"{args.data}: segments of shape {list(segments.shape[2:])}; the JAX baseline "
                 "trains the synthetic models on flat segments [n, m, d] only")
    n, _, d = segments.shape
    k = MODELS[args.model]
    lr = SYNTHETIC_LR if args.lr is None else args.lr
    params, state, step = trainer(jax, jnp, d, header["n_classes"], k, lr, args.eps, args.replicas, args.seed)
    x_all = jnp.asarray(segments)
    y_all = jnp.asarray(labels.astype(np.int32))
    rng = np.random.default_rng(args.seed)  # the shuffle; int32 indices, as jax takes them
    batches = -(-n // args.batch_size)

    def epoch(params, state):
        """One shuffled epoch; reads the losses every step, as sdc's loop (and the paper's)
        does, and as the PyTorch baseline does."""
        order = rng.permutation(n).astype(np.int32)
        loss_sum = 0.0
        for start in range(0, n, args.batch_size):
            idx = order[start : start + args.batch_size]
            params, state, losses = step(params, state, x_all, y_all, idx)
            loss_sum += float(jnp.mean(losses))
        return params, state, loss_sum

    for _ in range(args.warmup_epochs):
        params, state, _ = epoch(params, state)
    started = time.perf_counter()
    last_loss_sum = 0.0
    for _ in range(args.epochs):
        params, state, last_loss_sum = epoch(params, state)
    seconds = time.perf_counter() - started
    samples = n * args.epochs * args.replicas
    result = {
        "framework": "jax",
        "model": args.model,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "epochs": args.epochs,
        "warmup_epochs": args.warmup_epochs,
        "replicas": args.replicas,
        "steps": batches * args.epochs,
        "samples": samples,
        "seconds": seconds,
        "samples_per_second": samples / seconds,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "threads_seen": len(os.listdir("/proc/self/task")),
        "final_mean_loss": last_loss_sum / batches,
        "versions": {
            "jax": jax.__version__,
            "jaxlib": importlib.metadata.version("jaxlib"),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
