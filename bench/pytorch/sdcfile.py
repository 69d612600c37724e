"""Reading (and, for tests, writing) sdc's `.sdc` dataset files from Python.

The layout (crates/sdc-data/src/format.rs), all integers little-endian: magic, u32 version, u32
header length h, h bytes of JSON (`n_samples`, `n_segments`, `dim`, `n_classes`, optional
`segment_shape`, `meta`), f32 segments [n, m, d], u32 labels [n], u32 fg_index [n], u32 CRC32 of
every byte before it. Image tiles carry `segment_shape` [c, h, w] in the header (d = c*h*w, each
tile flattened channel-major, as torch's reshape reads it).

Shared by bench.py (`load_sdc`) and reference.py (`read_sdc`).
"""

import json
import os
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np

MAGIC = b"SDCDATA\0"
FORMAT_VERSION = 1
PREFIX_LEN = 16
CRC_LEN = 4


class SdcFormatError(ValueError):
    """A file that is not a valid `.sdc` file; the message names the file and the field."""


@dataclass
class SdcFile:
    """One `.sdc` split: segments float32 [n, m, d] (or [n, m, c, h, w] for image tiles),
    labels int64 [n], fg_index int64 [n] (the foreground position J of each mosaic), header."""

    segments: np.ndarray
    labels: np.ndarray
    fg_index: np.ndarray
    header: dict


def read_sdc(path):
    """Reads and checks every field of a `.sdc` file; raises SdcFormatError naming the file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < PREFIX_LEN + CRC_LEN or data[:8] != MAGIC:
        raise SdcFormatError(f"{path}: not an .sdc file (bad magic or shorter than {PREFIX_LEN + CRC_LEN} bytes)")
    version, header_len = struct.unpack_from("<II", data, 8)
    if version != FORMAT_VERSION:
        raise SdcFormatError(f"{path}: format version {version}; this script reads {FORMAT_VERSION}")
    header_end = PREFIX_LEN + header_len
    if header_end + CRC_LEN > len(data):
        raise SdcFormatError(f"{path}: header length {header_len} runs past the end of the file")
    try:
        header = json.loads(data[PREFIX_LEN:header_end])
        n, m, d = (int(header[k]) for k in ("n_samples", "n_segments", "dim"))
    except (ValueError, KeyError, TypeError) as e:
        raise SdcFormatError(f"{path}: header is not JSON with n_samples, n_segments, dim: {e}") from e
    expected = header_end + 4 * (n * m * d + 2 * n) + CRC_LEN
    if expected != len(data):
        raise SdcFormatError(f"{path}: {len(data)} bytes; n={n}, m={m}, d={d} needs {expected}")
    (stored,) = struct.unpack_from("<I", data, len(data) - CRC_LEN)
    computed = zlib.crc32(data[: len(data) - CRC_LEN]) & 0xFFFFFFFF
    if stored != computed:
        raise SdcFormatError(f"{path}: CRC32 mismatch (stored {stored:#010x}, computed {computed:#010x})")
    shape = [d]
    if header.get("segment_shape") is not None:
        shape = [int(s) for s in header["segment_shape"]]
        if len(shape) != 3 or int(np.prod(shape)) != d:
            raise SdcFormatError(f"{path}: segment_shape {shape} is not [c, h, w] with c*h*w = dim = {d}")
    cells = n * m * d
    segments = np.frombuffer(data, dtype="<f4", count=cells, offset=header_end).reshape(n, m, *shape)
    labels = np.frombuffer(data, dtype="<u4", count=n, offset=header_end + 4 * cells)
    fg_index = np.frombuffer(data, dtype="<u4", count=n, offset=header_end + 4 * (cells + n))
    n_classes = header.get("n_classes")
    if n > 0 and isinstance(n_classes, int) and int(labels.max()) >= n_classes:
        i = int(np.argmax(labels >= n_classes))
        raise SdcFormatError(f"{path}: labels[{i}] = {int(labels[i])} is not below n_classes = {n_classes}")
    if n > 0 and int(fg_index.max()) >= m:
        i = int(np.argmax(fg_index >= m))
        raise SdcFormatError(f"{path}: fg_index[{i}] = {int(fg_index[i])} is not below n_segments = {m}")
    return SdcFile(segments.astype(np.float32), labels.astype(np.int64), fg_index.astype(np.int64), header)


def load_sdc(path):
    """Returns (segments float32 [n, m, d], or [n, m, c, h, w] for image tiles, labels int64 [n],
    header dict); checks every field and exits with the error on a bad file (bench.py's reader)."""
    try:
        f = read_sdc(path)
    except SdcFormatError as e:
        sys.exit(str(e))
    return f.segments, f.labels, f.header


def write_sdc(path, segments, labels, fg_index, n_classes, meta=None):
    """Writes flat segments float32 [n, m, d], labels [n] and fg_index [n] as a `.sdc` file,
    atomically (a temporary file in the same directory, renamed into place)."""
    segments = np.ascontiguousarray(segments, dtype="<f4")
    n, m, d = segments.shape
    header = {"n_samples": n, "n_segments": m, "dim": d, "n_classes": int(n_classes), "meta": meta or {}}
    header_bytes = json.dumps(header).encode()
    body = (
        MAGIC
        + struct.pack("<II", FORMAT_VERSION, len(header_bytes))
        + header_bytes
        + segments.tobytes()
        + np.asarray(labels, dtype="<u4").tobytes()
        + np.asarray(fg_index, dtype="<u4").tobytes()
    )
    write_atomic(path, body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF))


def write_atomic(path, data):
    """Writes bytes to `path` through a temporary file in the same directory, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
