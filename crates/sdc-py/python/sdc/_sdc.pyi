"""Native half of the ``sdc`` package (Rust, through pyo3). Use the wrappers in ``sdc``."""

from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

_DatasetParts = Tuple[
    npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64], int, str
]

SIMPLEX_TOL: float

class SdcError(ValueError):
    """Bad input to sdc: the message names the array or file, the value, and what is accepted."""

def generate(text: str, format: str) -> Tuple[_DatasetParts, _DatasetParts]: ...
def load(path: str) -> _DatasetParts: ...
def save(
    path: str,
    segments: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    fg_index: npt.NDArray[np.int64],
    n_classes: int,
    meta_json: str,
) -> None: ...
def summarize(
    alpha: npt.NDArray[np.float32],
    fg_index: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    predictions: npt.NDArray[np.int64],
    threshold: Optional[float] = None,
) -> str: ...
def alpha_at_true_histogram(
    alpha: npt.NDArray[np.float32], fg_index: npt.NDArray[np.int64], n_bins: int = 20
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint64]]: ...
