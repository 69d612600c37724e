"""Tests of reference.py and sdcfile.py (stdlib unittest):

    bench/.venv/bin/python -m unittest discover -s bench/pytorch -p 'test_*.py'
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import reference  # noqa: E402
import sdcfile  # noqa: E402

torch.set_num_threads(1)


def rows(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


# A small valid configuration, as sdc writes a resolved config.toml (linear nets on 2-D segments).
BASE_TOML = """
name = "tiny"

[data]
distribution = "em2"
seed = 0

[model]
averaging_layer = 0
{model_extra}

[model.focus]
hidden = {focus_hidden}
bias = true
init = "{focus_init}"

[model.classifier]
hidden = []
bias = true
init = "default"

[model.attention]
kind = "{attention}"
temperature = 1.0

[train]
batch_size = 16
max_epochs = {max_epochs}
entropy = 0.0
seed = 3
precision = "f32"
backend = "ndarray"
eval_every = 1
checkpoint_every = 100
{train_extra}

[train.optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9

[train.objective]
kind = "soft"

[train.schedule]
kind = "joint"

[eval]
batch_size = 0

[eval.focus]
kind = "argmax"
"""


def config_text(**overrides):
    values = {
        "model_extra": "",
        "focus_hidden": "[]",
        "focus_init": "default",
        "attention": "softmax",
        "max_epochs": 3,
        "train_extra": "",
    }
    values.update(overrides)
    return BASE_TOML.format(**values)


def settings(**overrides):
    import tomllib

    return reference.parse_config(tomllib.loads(config_text(**overrides)))


class SparsemaxTest(unittest.TestCase):
    def test_known_projections(self):
        alpha = reference.sparsemax(rows([1.0, 0.0, -1.0], [1.5, 1.4, 0.0], [0.5, 0.4, 0.0]))
        third = 1.0 / 30.0
        expected = rows([1.0, 0.0, 0.0], [0.55, 0.45, 0.0], [0.5 + third, 0.4 + third, third])
        torch.testing.assert_close(alpha, expected, atol=1e-12, rtol=0)

    def test_rows_sum_to_one_and_are_sparse(self):
        z = torch.randn(50, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
        alpha = reference.sparsemax(z)
        torch.testing.assert_close(alpha.sum(dim=1), torch.ones(50, dtype=torch.float64))
        self.assertTrue(bool((alpha >= 0).all()))
        # Spread-out scores leave most segments at exactly zero.
        self.assertGreater(int((alpha == 0).sum()), 50 * 4)

    def test_is_the_euclidean_projection(self):
        # The projection of z onto the simplex is the closest point: no other simplex point is nearer.
        gen = torch.Generator().manual_seed(1)
        z = torch.randn(20, 5, generator=gen, dtype=torch.float64)
        alpha = reference.sparsemax(z)
        others = torch.distributions.Dirichlet(torch.ones(5, dtype=torch.float64)).sample((20, 200))
        best = ((z.unsqueeze(1) - others) ** 2).sum(dim=2).min(dim=1).values
        self.assertTrue(bool((((z - alpha) ** 2).sum(dim=1) <= best + 1e-12).all()))

    def test_ties_split_evenly_and_shift_invariant(self):
        alpha = reference.sparsemax(rows([2.0, 2.0, 0.0, 2.0]))
        torch.testing.assert_close(alpha, rows([1 / 3, 1 / 3, 0.0, 1 / 3]))
        torch.testing.assert_close(reference.sparsemax(rows([1e6, 1e6 - 0.2, -1e6])), rows([0.6, 0.4, 0.0]))

    def test_gradient_is_the_closed_form(self):
        # On the support S: d alpha / dz applied to g is g - mean_S(g); zero outside.
        z = rows([0.5, 0.4, 0.0, -2.0]).requires_grad_()
        g = rows([1.0, -2.0, 4.0, 7.0])
        (reference.sparsemax(z) * g).sum().backward()
        mean = (1.0 - 2.0 + 4.0) / 3
        torch.testing.assert_close(z.grad, rows([1.0 - mean, -2.0 - mean, 4.0 - mean, 0.0]))


class OtherMapsTest(unittest.TestCase):
    def test_entmax15_closed_form_and_simplex(self):
        tau = -0.25 - 0.4375**0.5
        torch.testing.assert_close(reference.entmax15(rows([1.0, 0.0])), rows([tau * tau, (0.5 + tau) ** 2]))
        torch.testing.assert_close(reference.entmax15(rows([3.0, 0.0, -1.0])), rows([1.0, 0.0, 0.0]))
        z = torch.randn(30, 9, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        torch.testing.assert_close(reference.entmax15(z).sum(dim=1), torch.ones(30, dtype=torch.float64))
        self.assertTrue(torch.autograd.gradcheck(reference.entmax15, (z[:3].clone().requires_grad_(),)))

    def test_spherical(self):
        alpha = reference.spherical(rows([1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [-3.0, 4.0, 0.0]))
        torch.testing.assert_close(alpha, rows([0.2, 0.8, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.36, 0.64, 0.0]))


class ModelTest(unittest.TestCase):
    def test_functionally_zero_gives_uniform_attention_at_init(self):
        s = settings(focus_hidden="[6, 12]", focus_init="functionally-zero")
        model = reference.AttentionModel(s, d=5, n_classes=3)
        x = torch.randn(7, 9, 5, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            _, alpha, scores = model(x)
        # Zero up to float32 rounding of the mirrored terms' sum (h w - h w in another order).
        self.assertLess(float(scores.abs().max()), 1e-6)
        torch.testing.assert_close(alpha, torch.full((7, 9), 1 / 9))
        # The mirroring itself is exact.
        last = model.focus.hidden[-1].weight
        torch.testing.assert_close(last[6:], last[:6], rtol=0, atol=0)
        out = model.focus.output.weight
        torch.testing.assert_close(out[:, 6:], -out[:, :6], rtol=0, atol=0)
        # Not a dead network: the focus still gets gradients.
        logits, _, _ = model(x)
        logits.sum().backward()
        self.assertGreater(float(model.focus.hidden[0].weight.grad.abs().sum()), 0.0)

    def test_shared_seeding_makes_focus_equal_the_classifiers_first_row(self):
        # Linear focus 2 -> 1 and linear classifier 2 -> 3: the same fan-in and the same stream.
        shared = reference.AttentionModel(settings(model_extra='init_seeding = "shared"'), d=2, n_classes=3)
        torch.testing.assert_close(shared.focus.output.weight[0], shared.classifier.output.weight[0], rtol=0, atol=0)
        independent = reference.AttentionModel(settings(), d=2, n_classes=3)
        self.assertFalse(torch.equal(independent.focus.output.weight[0], independent.classifier.output.weight[0]))
        # Same seed, same focus either way (seeded once before it).
        torch.testing.assert_close(independent.focus.output.weight, shared.focus.output.weight, rtol=0, atol=0)

    def test_averaging_layer_feeds_tanh_features(self):
        s = settings(focus_hidden="[4, 6]")
        s["averaging_layer"] = 2
        model = reference.AttentionModel(s, d=2, n_classes=3)
        self.assertEqual(model.classifier.output.in_features, 6)
        x = torch.randn(3, 5, 2)
        _, features = model.focus(x.reshape(15, 2), 2)
        self.assertTrue(bool((features.abs() < 1).all()))

    def test_schedule(self):
        alt = {"kind": "alternating", "every": 2, "first": "focus"}
        active = "".join(
            "F" if reference.updates(alt, "focus", e) else "C" for e in range(1, 9)
        )
        self.assertEqual(active, "FFCCFFCC")
        self.assertFalse(reference.updates(alt, "classifier", 1))
        self.assertTrue(reference.updates({"kind": "joint"}, "classifier", 5))

    def test_stop_rule_loss_and_argmax_ties(self):
        self.assertAlmostEqual(reference.stop_rule_loss([1.0, 2.0, 3.0], False), 2.0)
        self.assertAlmostEqual(reference.stop_rule_loss([1.0, 2.0, 3.0], True), 3.0)
        self.assertAlmostEqual(reference.stop_rule_loss([4.0], True), 4.0)
        got = reference.argmax_first(np.array([[0.5, 0.5, 0.0], [np.nan, 0.1, 0.9], [0.1, 0.45, 0.45]]))
        self.assertEqual(got.tolist(), [0, 2, 1])


class RefusalTest(unittest.TestCase):
    def assert_refused(self, text, needle):
        import tomllib

        with self.assertRaises(reference.ConfigError) as caught:
            reference.parse_config(tomllib.loads(text))
        self.assertIn(needle, str(caught.exception))

    def test_unsupported_keys_and_values_are_named(self):
        self.assert_refused(config_text(train_extra="freeze = [\"focus\"]"), "train.freeze")
        self.assert_refused(config_text(train_extra="warmup = 3"), "train.warmup")
        self.assert_refused(config_text(model_extra='init_seeding = "per-layer"'), 'model.init_seeding = "per-layer"')
        self.assert_refused(config_text(attention="gumbel"), 'model.attention.kind = "gumbel"')
        self.assert_refused(config_text().replace('kind = "soft"', 'kind = "lvml"'), 'train.objective.kind = "lvml"')
        self.assert_refused(
            config_text().replace('kind = "argmax"', 'kind = "threshold"\nt = 0.5'), "eval.focus"
        )
        self.assert_refused(config_text(focus_init="functionally-zero"), "model.focus.init")

    def test_supported_defaults(self):
        s = settings()
        self.assertEqual(s["init_seeding"], "independent")
        self.assertEqual(s["eval_batch_size"], 16)
        self.assertIsNone(s["stop"])
        self.assertEqual(s["optimizer"], {"kind": "sgd", "momentum": 0.9, "lr": 0.05})


def tiny_data(directory, n, seed):
    """Mosaics of m = 4 two-dimensional segments: one foreground point at J whose class is the
    label (classes 0-2 at x1 = 0, 1, 2, x2 = 3), background points near (0, -3)."""
    rng = np.random.default_rng(seed)
    m = 4
    labels = rng.integers(0, 3, n)
    fg = rng.integers(0, m, n)
    segments = rng.normal(0, 0.1, (n, m, 2)) + np.array([0.0, -3.0])
    segments[np.arange(n), fg] = np.stack([labels, np.full(n, 3.0)], axis=1) + rng.normal(0, 0.1, (n, 2))
    path = os.path.join(directory, f"split{seed}.sdc")
    sdcfile.write_sdc(path, segments, labels, fg, n_classes=3, meta={"test": True})
    return path


class EndToEndTest(unittest.TestCase):
    def test_a_tiny_run_writes_a_valid_result(self):
        with tempfile.TemporaryDirectory() as d:
            train, test = tiny_data(d, 96, 0), tiny_data(d, 48, 1)
            loaded = sdcfile.read_sdc(train)
            self.assertEqual(loaded.segments.shape, (96, 4, 2))
            self.assertEqual(int(loaded.fg_index.max()) < 4, True)
            config = os.path.join(d, "config.toml")
            with open(config, "w") as f:
                f.write(config_text(max_epochs=40, train_extra="[train.stop]\nloss = 0.2\npaper_quirk = true"))
            out = os.path.join(d, "RESULT.json")
            cmd = [sys.executable, os.path.join(HERE, "reference.py"), "--config", config, "--train", train]
            done = subprocess.run(cmd + ["--test", test, "--out", out], capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            with open(out) as f:
                result = json.load(f)
            self.assertEqual(result["schema"], "sdc-parity-reference/1")
            self.assertEqual((result["seed"], result["threads"]), (3, 1))
            self.assertIn(result["stop_reason"], ("loss", "max_epochs"))
            self.assertTrue(1 <= result["epochs"] <= 40)
            for split in ("train", "test"):
                r = result[split]
                self.assertAlmostEqual(r["ftpt"] + r["ffpt"] + r["ftpf"] + r["ffpf"], 100.0, places=9)
                self.assertAlmostEqual(r["accuracy"], r["ftpt"] + r["ffpt"], places=9)
                self.assertTrue(0 <= r["loss"] < 5)
            # This easy task is learnt: well above chance (33%).
            self.assertGreater(result["train"]["accuracy"], 80.0)
            self.assertEqual([n for n in os.listdir(d) if n.startswith(".tmp")], [])

            # Same seed, same numbers (one thread, CPU).
            out2 = os.path.join(d, "RESULT2.json")
            subprocess.run(cmd + ["--test", test, "--out", out2], check=True, capture_output=True)
            with open(out2) as f:
                again = json.load(f)
            self.assertEqual((again["train"], again["test"], again["epochs"]), (result["train"], result["test"], result["epochs"]))

            # An unsupported key: non-zero exit naming it, no result written.
            with open(config, "a") as f:
                f.write("\n[train.pretrain]\nfocus = { epochs = 3 }\n")
            out3 = os.path.join(d, "RESULT3.json")
            refused = subprocess.run(cmd + ["--test", test, "--out", out3], capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("train.pretrain", refused.stderr)
            self.assertFalse(os.path.exists(out3))

    def test_corrupt_sdc_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            path = tiny_data(d, 8, 0)
            with open(path, "r+b") as f:
                f.seek(40)
                byte = f.read(1)
                f.seek(40)
                f.write(bytes([byte[0] ^ 0xFF]))
            with self.assertRaises(sdcfile.SdcFormatError) as caught:
                sdcfile.read_sdc(path)
            self.assertIn(path, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
