"""IDX, the format of MNIST and Fashion-MNIST: a magic number, the dimensions, raw data."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .converted import converted
from .stream import DiskArray, RowSource, npy_file, write_npy_header

# The third byte of the magic number says the element type.
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _parse_header(head: bytes, path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, bytes of header) from the first bytes of an IDX file."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
        raise InvalidInputError(f"{path}: not an IDX file (bad magic number)")
    ndim = head[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(head) < header:
        raise InvalidInputError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if 0 in shape:
        raise InvalidInputError(f"{path}: its IDX header gives a dimension of size 0 (shape {shape}): it "
                                "holds no samples")
    return shape, np.dtype(_DTYPES[head[2]]), header


def check_samples(path: Path) -> None:
    """Refuse an IDX file of one dimension (labels) given where samples are expected."""
    _samples_shape(_parse_header(_head(path), path)[0], path)


def _samples_shape(shape: tuple[int, ...], path: Path) -> None:
    if len(shape) < 2:
        raise InvalidInputError(f"{path}: an IDX file of one dimension ({shape[0]:,} values) holds labels "
                                "or values, not samples; give the images' file (e.g. ...-images-idx3-ubyte)")


def open_idx(path: str | Path) -> RowSource:
    """An IDX file as rows read from disk a batch at a time. A raw uint8 file (every image set)
    is read in place; a ``.gz`` or another element type is first converted to a ``.npy`` in
    the cache (``aekit.data.converted``), a chunk at a time."""
    path = Path(path)
    shape, dtype, header = _parse_header(_head(path), path)
    _samples_shape(shape, path)
    name = path.name.split(".")[0]
    if _packed(path) or dtype != np.uint8:
        folder = converted(path, "idx", {}, lambda out: _to_npy(path, shape, dtype, header, out / "X.npy"))
        files = DiskArray.open(folder / "X.npy").files
    else:
        files = [npy_file(path, header, shape, dtype)]
    rows = DiskArray(files, name)
    return rows.with_sample_shape((1, *shape[1:])) if len(shape) == 3 else rows


def idx_size(path: Path) -> int:
    """Bytes of the data an IDX file (raw or .gz) holds, from its header."""
    shape, dtype, _ = _parse_header(_head(path), path)
    return math.prod(shape) * dtype.itemsize


def _head(path: Path) -> bytes:
    """The first bytes of the IDX data: enough for any header."""
    try:
        with _open(path) as f:
            return f.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc})") from exc


def _packed(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc})") from exc


def _open(path: Path):
    """The file's IDX bytes (decompressed on the fly for a .gz)."""
    return gzip.open(path, "rb") if _packed(path) else open(path, "rb")


def _to_npy(path: Path, shape, dtype: np.dtype, header: int, out: Path) -> None:
    """Copy the IDX data to a .npy (native byte order; elements other than uint8 as float32), a chunk at
    a time. Plain writes, not a memory map: a full disk is an error, not a crash."""
    target = np.dtype(np.uint8) if dtype == np.uint8 else np.dtype(np.float32)
    row_bytes = math.prod(shape[1:]) * dtype.itemsize
    rows_per_chunk = max(1, (16 << 20) // row_bytes)
    with _open(path) as f, open(out, "wb") as npy:
        write_npy_header(npy, shape, target)
        _read(f, path, header)
        for start in range(0, shape[0], rows_per_chunk):
            n = min(rows_per_chunk, shape[0] - start)
            raw = _read(f, path, n * row_bytes)
            if len(raw) != n * row_bytes:
                raise InvalidInputError(f"{path}: the IDX data end after {start + len(raw) // row_bytes} "
                                        f"of {shape[0]} rows (truncated or corrupt file)")
            npy.write(np.frombuffer(raw, dtype=dtype).astype(target).tobytes())
        if _read(f, path, 1):
            raise InvalidInputError(f"{path}: more data than its IDX header promises (corrupt file)")


def _read(f, path: Path, size: int) -> bytes:
    try:
        return f.read(size)
    except (OSError, EOFError, zlib.error) as exc:  # (gzip.BadGzipFile is an OSError)
        raise InvalidInputError(f"{path}: cannot read ({exc})") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``); images come back as ``(n, 1, H, W)``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc})") from exc
    shape, dtype, header = _parse_header(raw, path)
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) != expected:
        raise InvalidInputError(f"{path}: IDX data is {len(raw)} bytes, the header promises {expected} "
                                "(truncated or corrupt file)")
    # bytearray: a writable buffer, so the array can become a torch tensor without a warning
    data = np.frombuffer(bytearray(raw), dtype=dtype, offset=header).reshape(shape)
    return data[:, None] if data.ndim == 3 else data
