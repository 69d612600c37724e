"""Tests of bench.py, the JAX baseline (stdlib unittest):

    bench/.venv-jax/bin/python -m unittest discover -s bench/jax -p 'test_*.py'
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402

bench.limit_threads(1)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "pytorch"))
import sdcfile  # noqa: E402

# The fields `cargo xtask bench` reads from every child (xtask/src/bench/child.rs, `Measurement`,
# as bench/pytorch/bench.py prints them), plus the replica count.
FIELDS = {
    "framework", "model", "batch_size", "threads", "epochs", "warmup_epochs", "steps", "samples",
    "seconds", "samples_per_second", "peak_rss_kib", "threads_seen", "final_mean_loss", "versions",
    "replicas",
}  # fmt: skip

N, M, D, CLASSES = 40, 9, 5, 3


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    segments = rng.normal(size=(N, M, D)).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=N)
    fg_index = rng.integers(0, M, size=N)
    return segments, labels, fg_index


class BenchScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.dir.name, "train.sdc")
        segments, labels, fg_index = tiny_data()
        sdcfile.write_sdc(cls.path, segments, labels, fg_index, CLASSES)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def run_script(self, *extra):
        argv = [sys.executable, os.path.join(HERE, "bench.py"), "--data", self.path, "--batch-size", "16"]
        argv += ["--threads", "1", "--epochs", "1", "--warmup-epochs", "0", *extra]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    def test_prints_one_json_line_with_the_measurement_fields(self):
        for model, replicas in (("synthetic-layer0", 1), ("synthetic-layer1", 3)):
            done = self.run_script("--model", model, "--replicas", str(replicas))
            self.assertEqual(done.returncode, 0, done.stderr)
            lines = done.stdout.strip().splitlines()
            self.assertEqual(len(lines), 1, done.stdout)
            m = json.loads(lines[0])
            self.assertEqual(set(m), FIELDS)
            self.assertEqual((m["framework"], m["model"], m["replicas"]), ("jax", model, replicas))
            self.assertEqual((m["batch_size"], m["threads"], m["epochs"]), (16, 1, 1))
            self.assertEqual(m["steps"], 3)  # ceil(40 / 16)
            self.assertEqual(m["samples"], N * replicas)
            self.assertAlmostEqual(m["samples_per_second"], m["samples"] / m["seconds"])
            self.assertTrue(np.isfinite(m["final_mean_loss"]) and m["final_mean_loss"] > 0)
            self.assertGreater(m["peak_rss_kib"], 0)
            self.assertEqual(m["versions"]["jax"], jax.__version__)

    def test_refuses_mnist_mosaic_and_bad_counts_by_name(self):
        done = self.run_script("--model", "mnist-mosaic")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--model mnist-mosaic", done.stderr)
        done = self.run_script("--model", "synthetic-layer0", "--replicas", "0")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--replicas must be >= 1, got 0", done.stderr)


class Training(unittest.TestCase):
    def setUp(self):
        segments, labels, _ = tiny_data()
        self.x = jnp.asarray(segments)
        self.y = jnp.asarray(labels.astype(np.int32))
        self.idx = jnp.arange(16, dtype=jnp.int32)

    def first_losses(self, replicas, k=0, seed=0):
        params, state, step = bench.trainer(jax, jnp, D, CLASSES, k, 0.01, 1e-8, replicas, seed)
        before = jax.tree_util.tree_map(np.asarray, params)
        params, state, losses = step(params, state, self.x, self.y, self.idx)
        return before, jax.tree_util.tree_map(np.asarray, params), np.asarray(losses)

    def test_vmap_replicas_start_from_different_models(self):
        _, _, losses = self.first_losses(3)
        self.assertEqual(losses.shape, (3,))
        self.assertEqual(len(set(losses.tolist())), 3, losses)
        # Replica r is the model of seed `seed + r`, whatever the replica count.
        _, _, alone = self.first_losses(1, seed=2)
        self.assertAlmostEqual(float(alone[0]), float(losses[2]), places=5)

    def test_loss_is_the_attention_models_cross_entropy(self):
        """The first step's loss is that of the initial parameters: recomputed here in NumPy
        (softmax over the segments, weighted average of the raw segments, ReLU MLP)."""
        before, _, losses = self.first_losses(1)
        p = jax.tree_util.tree_map(lambda a: a[0], before)
        x, y = np.asarray(self.x)[:16], np.asarray(self.y)[:16]
        h = x.reshape(-1, D)
        for layer in p["focus"][:-1]:
            h = np.maximum(h @ layer["w"] + layer["b"], 0)
        scores = (h @ p["focus"][-1]["w"] + p["focus"][-1]["b"]).reshape(16, M)
        alpha = np.exp(scores - scores.max(1, keepdims=True))
        alpha /= alpha.sum(1, keepdims=True)
        h = (alpha[:, :, None] * x).sum(1)
        for layer in p["classifier"][:-1]:
            h = np.maximum(h @ layer["w"] + layer["b"], 0)
        logits = h @ p["classifier"][-1]["w"] + p["classifier"][-1]["b"]
        logp = logits - logits.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        self.assertAlmostEqual(float(losses[0]), float(-logp[np.arange(16), y].mean()), places=5)

    def test_first_adam_step_is_lr_times_the_gradients_sign(self):
        """Adam's first step (bias-corrected moments g and g^2) moves each parameter by
        -lr * g / (|g| + eps): gradients recomputed here with jax.grad of the model's loss.
        Gradients near eps (1e-8) are mostly rounding, and differ between two compilations;
        there the step is only bounded by lr."""
        before, after, _ = self.first_losses(2, k=1)
        _, loss = bench.build(jax, jnp, D, CLASSES, 1)
        grads = jax.vmap(jax.grad(loss), in_axes=(0, None, None))(before, self.x[:16], self.y[:16])
        leaves = zip(*(jax.tree_util.tree_leaves(t) for t in (before, after, grads)))
        for b, a, g in leaves:
            g = np.asarray(g, dtype=np.float64)
            clear = np.abs(g) > 1e-6
            expected = -0.01 * g / (np.abs(g) + 1e-8)
            np.testing.assert_allclose((a - b)[clear], expected[clear], rtol=1e-4)
            self.assertTrue(np.all(np.abs(a - b) <= 0.01 * (1 + 1e-5)))
        clear = sum(int(np.sum(np.abs(g) > 1e-6)) for g in jax.tree_util.tree_leaves(grads))
        self.assertGreater(clear, 100)

if __name__ == "__main__":
    unittest.main()
