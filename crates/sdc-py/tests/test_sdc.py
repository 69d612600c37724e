"""The Python package against NumPy only: datasets, metrics by hand, errors."""

import json

import numpy as np
import pytest

import sdc

# The six-sample set whose cells are computed by hand in sdc-interp's tests.
ALPHA = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.1, 0.8],
        [0.5, 0.5, 0.0],
        [0.2, 0.6, 0.2],
        [0.2, 0.6, 0.2],
        [0.3, 0.3, 0.4],
    ]
)
FG = np.array([0, 2, 1, 0, 2, 2])
LABELS = np.array([1, 0, 2, 0, 1, 0])
PREDS = np.array([1, 0, 2, 0, 1, 1])

SMALL = {"distribution": "blobs5d", "n_train": 40, "n_test": 10, "n_base": 300, "seed": 3}


def test_generate_gives_numpy_arrays_of_the_config():
    train, test = sdc.generate(SMALL)
    assert train.segments.shape == (40, 9, 5) and train.segments.dtype == np.float32
    assert train.labels.dtype == np.int64 and train.fg_index.dtype == np.int64
    assert len(test) == 10 and train.n_segments == 9 and train.segment_shape == (5,)
    assert train.n_classes == 3 and set(train.labels) <= {0, 1, 2}
    assert train.fg_index.min() >= 0 and train.fg_index.max() < 9
    assert train.meta["distribution"] == "blobs5d" and train.meta["seed"] == 3
    again, _ = sdc.generate(SMALL)
    np.testing.assert_array_equal(train.segments, again.segments)
    other, _ = sdc.generate(SMALL, seed=4)
    assert not np.array_equal(train.segments, other.segments)


def test_generate_from_a_toml_experiment_file(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('name = "x"\n[data]\ndistribution = "blobs5d"\nn_train = 7\nn_test = 2\n')
    train, test = sdc.generate(path)
    assert (len(train), len(test)) == (7, 2)


@pytest.mark.parametrize("suffix", ["npz", "sdc"])
def test_save_then_load_is_identity(tmp_path, suffix):
    train, _ = sdc.generate(SMALL)
    path = tmp_path / f"d.{suffix}"
    sdc.save(train, path)
    back = sdc.load(path)
    np.testing.assert_array_equal(back.segments, train.segments)
    np.testing.assert_array_equal(back.labels, train.labels)
    np.testing.assert_array_equal(back.fg_index, train.fg_index)
    assert back.n_classes == train.n_classes and back.meta == train.meta


def test_npz_is_plain_numpy(tmp_path):
    train, _ = sdc.generate(SMALL)
    path = tmp_path / "d.npz"
    sdc.save(train, path)
    with np.load(path) as f:
        assert f["segments"].shape == (40, 9, 5)
        np.testing.assert_array_equal(f["labels"], train.labels)
        assert int(f["n_classes"]) == 3
        assert json.loads(bytes(f["meta_json"]))["seed"] == 3
    # An archive written by NumPy alone (float64, no metadata) loads too.
    np.savez(tmp_path / "np.npz", segments=np.zeros((2, 3, 4)), labels=[0, 1], fg_index=[2, 0])
    d = sdc.load(tmp_path / "np.npz")
    assert d.segments.shape == (2, 3, 4) and d.n_classes == 2 and d.meta is None


def test_rates_by_hand():
    r = sdc.rates(ALPHA, FG, LABELS, PREDS)
    # Focus (first argmax == J): T T F F F T; prediction: T T T T T F.
    assert r == pytest.approx({"ftpt": 200 / 6, "ffpt": 300 / 6, "ftpf": 100 / 6, "ffpf": 0.0})
    thr = sdc.rates(ALPHA, FG, LABELS, PREDS, threshold=0.45)
    # alpha at J > 0.45: 0.7 0.8 0.5 -> T T T F F F.
    assert thr == pytest.approx({"ftpt": 300 / 6, "ffpt": 200 / 6, "ftpf": 0.0, "ffpf": 100 / 6})


def test_summarize_by_hand():
    s = sdc.summarize(ALPHA, FG, LABELS, PREDS)
    assert s["n_samples"] == 6
    assert s["counts"] == {"ftpt": 2, "ffpt": 3, "ftpf": 1, "ffpf": 0}
    assert s["accuracy"] == pytest.approx(500 / 6)
    assert s["share_max_ge_half"] == pytest.approx(500 / 6)
    assert s["sparsity_value"] == pytest.approx(17 / 6)
    assert s["mean_alpha_at_true"] == pytest.approx(2.8 / 6, abs=1e-6)


def test_histogram_by_hand():
    edges, counts = sdc.alpha_at_true_histogram(ALPHA, FG, n_bins=4)
    np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1.0])
    # alpha at J: 0.7 0.8 0.5 0.2 0.2 0.4.
    np.testing.assert_array_equal(counts, [2, 1, 2, 1])


@pytest.mark.parametrize(
    "alpha, fg, labels, preds, message",
    [
        (ALPHA[:, :2] * 2, FG, LABELS, PREDS, "alpha row 0 sums to .* not 1"),
        (np.where(ALPHA == 0.7, np.nan, ALPHA), FG, LABELS, PREDS, "alpha[0, 0] is NaN"),
        (ALPHA, FG + 1, LABELS, PREDS, "sample 1: foreground index 3 out of range for 3"),
        (ALPHA, FG, LABELS[:5], PREDS, "labels has length 5, expected 6"),
        (ALPHA, FG, LABELS - 1, PREDS, "labels[1] = -1 is not an index"),
        (ALPHA, FG, LABELS, PREDS.astype(float), "predictions: dtype float64 is not accepted"),
        (ALPHA[0], FG, LABELS, PREDS, "alpha: shape [3]: expected [n_samples, n_segments]"),
    ],
)
def test_bad_input_raises_with_the_rust_message(alpha, fg, labels, preds, message):
    with pytest.raises(sdc.SdcError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sdc.summarize(alpha, fg, labels, preds)


def test_errors_are_value_errors_and_name_files(tmp_path):
    assert issubclass(sdc.SdcError, ValueError)
    (tmp_path / "bad.sdc").write_bytes(b"not a dataset")
    with pytest.raises(sdc.SdcError, match="bad.sdc"):
        sdc.load(tmp_path / "bad.sdc")
    with pytest.raises(sdc.SdcError, match="nope"):
        sdc.generate({"distribution": "nope"})


def test_read_summary(tmp_path):
    s = sdc.summarize(ALPHA, FG, LABELS, PREDS)
    (tmp_path / "summary.json").write_text(json.dumps(s))
    assert sdc.read_summary(tmp_path) == s
    with pytest.raises(sdc.SdcError, match="no such file"):
        sdc.read_summary(tmp_path / "missing")
