#!/usr/bin/env bash
# The Python package: build the wheel (maturin, abi3), install it into a fresh venv with NumPy
# only, run its tests, run the NumPy example and check that `sdc score` on the example's
# outputs writes the summary the package computes. Called from .ci/run after the cargo tests
# (it reuses their debug build of the `sdc` binary); PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# Pinned: the wheel is built and tested with exactly these.
MATURIN_VERSION=1.16.0
NUMPY_VERSION=2.4.6
PYTEST_VERSION=9.2.0
PYTHON=${PYTHON:-python3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check \
  "maturin==$MATURIN_VERSION" "numpy==$NUMPY_VERSION" "pytest==$PYTEST_VERSION"

echo "== python: maturin build (release, abi3) into the shared target dir"
"$work/venv/bin/maturin" build --release --strip --locked --interpreter "$py" \
  --manifest-path crates/sdc-py/Cargo.toml --out "$work/wheels"
wheel=$(ls "$work"/wheels/sdc-*.whl)
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
"$py" -m pip install -q --disable-pip-version-check --no-index --no-deps "$wheel"

echo "== python: pytest (NumPy only)"
# Outside the source tree, so the tests import the installed wheel. Exit code 5 (no tests
# collected) fails like any other non-zero code.
(cd "$work" && "$py" -m pytest -q -p no:cacheprovider "$repo/crates/sdc-py/tests")

echo "== python: the NumPy example, and the same arrays through sdc score"
# The `sdc` of the workspace's test build: after .ci/run's `cargo test --workspace` this builds
# nothing, where `cargo build -p sdc-cli` would unify features differently and rebuild Burn.
cargo test -q --locked --workspace --no-run
target=$(cargo metadata -q --format-version 1 --no-deps |
  "$py" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
(cd "$work" && "$py" "$repo/examples/numpy_model.py" outputs.npz)
"$target/debug/sdc" score --alpha "$work/outputs.npz" --out "$work/score"
"$py" - "$work" <<'PY'
import json, sys
import numpy as np
import sdc
work = sys.argv[1]
with np.load(f"{work}/outputs.npz") as f:
    mine = sdc.summarize(f["alpha"], f["fg_index"], f["labels"], f["predictions"])
theirs = sdc.read_summary(f"{work}/score")
assert mine == theirs, f"package and sdc score disagree:\n{mine}\n{theirs}"
print(f"package and sdc score agree: FTPT {mine['rates']['ftpt']:.2f} FFPT {mine['rates']['ffpt']:.2f}")
PY
