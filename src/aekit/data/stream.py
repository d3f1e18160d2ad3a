"""Arrays larger than memory: read from disk a batch at a time.

A :class:`DiskArray` is one ``.npy`` file or a folder of ``.npy`` shards (the same sample shape
and dtype, taken in name order) seen as one array of rows. Training gathers each batch's rows
from it (``take``) and inference reads consecutive rows (``X[start:stop]``); nothing holds the
whole array. Rows are read with ``pread`` into new arrays, not memory-mapped: the operating
system's page cache keeps what was read recently (a second epoch of data that fits in the cache
reads no disk), while the process's own resident memory stays flat however large the data
are (a mapping would count every page a random batch touches, and the pages around them, as
the process's own; benchmarks/out_of_core.py). Runs of consecutive rows are read at once.

Every full pass over the data (statistics for the scaler, the finiteness check, checksums) goes
through :func:`row_chunks`, which cuts any array, in memory or on disk, into the same chunks:
the streamed and the in-memory paths compute identical statistics and train identical weights.
"""

from __future__ import annotations

import abc
import copy
import math
import os
import struct
import weakref
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError

CHUNK_BYTES = 64 << 20  # rows per statistics chunk: ~64 MB of float64 per chunk


@dataclass(frozen=True)
class _NpyFile:
    """An open ``.npy`` file: where its rows start, and what it looked like when opened."""

    path: Path
    fd: int
    offset: int  # of the first row
    rows: int
    sample_shape: tuple[int, ...]
    dtype: np.dtype
    stamp: tuple[int, int]  # (size, mtime_ns): a file changed after opening is an error

    @property
    def row_bytes(self) -> int:
        return math.prod(self.sample_shape) * self.dtype.itemsize

    def read(self, first: int, view: memoryview) -> None:
        """Bytes of the rows from row ``first`` on, filling ``view``."""
        position = self.offset + first * self.row_bytes
        done = os.preadv(self.fd, [view], position)
        while done < len(view):  # pread may return less than asked; 0 at the end of the file
            got = os.preadv(self.fd, [view[done:]], position + done)
            if got == 0:
                raise InvalidInputError(f"{self.path}: the file ended early: it was truncated or "
                                        "replaced while aekit read it")
            done += got

    def check_unchanged(self) -> None:
        info = os.fstat(self.fd)
        if (info.st_size, info.st_mtime_ns) != self.stamp:
            raise InvalidInputError(f"{self.path} changed while aekit was reading it: the data of a "
                                    "run must stay as they were when it started")


class RowSource(abc.ABC):
    """Rows produced on demand: what training and inference need of data they never hold whole.

    ``len``, ``shape``, ``dtype``, ``ndim``, ``nbytes``, ``take(indices)`` (rows in any order, as
    a new array) and ``X[start:stop]`` (consecutive rows). Subclasses implement ``_take`` for
    their native sample shape; ``with_sample_shape`` views the rows in another shape of the same
    size ((H, W) -> (1, H, W)).
    """

    name: str
    dtype: np.dtype
    native_shape: tuple[int, ...]
    sample_shape: tuple[int, ...]

    @abc.abstractmethod
    def _take(self, indices: np.ndarray) -> np.ndarray:
        """Rows ``indices`` (validated, any order) in the native sample shape."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of rows."""

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.sample_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.sample_shape)

    @property
    def nbytes(self) -> int:
        return len(self) * math.prod(self.sample_shape) * self.dtype.itemsize

    def with_sample_shape(self, sample_shape: tuple[int, ...]) -> RowSource:
        if math.prod(sample_shape) != math.prod(self.native_shape):
            raise ValueError(f"cannot view samples of shape {self.native_shape} as {sample_shape}")
        view = copy.copy(self)
        view.sample_shape = tuple(sample_shape)
        return view

    def take(self, indices) -> np.ndarray:
        """Rows ``indices`` (any order, repeats allowed) as a new array."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row indices must lie in [0, {len(self)})")
        return self._take(indices).reshape(len(indices), *self.sample_shape)

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"{type(self).__name__} reads consecutive rows X[start:stop] or rows "
                            "X.take(indices)")
        start, stop, _ = key.indices(len(self))
        return self.take(np.arange(start, max(start, stop)))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self.name} is read a batch at a time: aekit never loads it whole")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class DiskArray(RowSource):
    """Rows of one or more ``.npy`` files, read a batch at a time (see the module's text)."""

    thread_safe = True  # pread at explicit offsets: reads may run in several threads

    def __init__(self, files: list[_NpyFile], name: str):
        self.files, self.name = files, name
        # float64 files are read as float32, as arrays in memory are (estimators._validate_X).
        self.dtype = np.dtype(np.float32) if files[0].dtype == np.float64 else files[0].dtype
        self.native_shape = self.sample_shape = files[0].sample_shape
        self.offsets = np.cumsum([0] + [f.rows for f in files])

    @classmethod
    def open(cls, path, member: str | None = None) -> DiskArray:
        """A ``.npy`` file, a folder of ``.npy`` shards (all of one sample shape and dtype), or the
        array ``member`` of an ``.npz`` archive written by ``np.savez`` (stored, not compressed)."""
        path = Path(path)
        if member is not None:
            return cls([_open_npy(path, *_npz_member(path, member))], f"{path.stem}[{member}]")
        paths = sorted(path.glob("*.npy")) if path.is_dir() else [path]
        if not paths:
            raise InvalidInputError(f"{path}: no .npy shards in this folder")
        files = [_open_npy(p) for p in paths]
        for f in files[1:]:
            if f.sample_shape != files[0].sample_shape or f.dtype != files[0].dtype:
                raise InvalidInputError(
                    f"{f.path}: shard of samples {f.sample_shape} {f.dtype}, but {files[0].path.name} "
                    f"holds {files[0].sample_shape} {files[0].dtype}: every shard must hold the same "
                    "kind of samples")
        return cls(files, path.stem if path.is_file() else path.name)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _take(self, indices: np.ndarray) -> np.ndarray:
        if len(indices) == 0:
            return np.empty((0, *self.native_shape), dtype=self.dtype)
        order = np.argsort(indices, kind="stable")
        wanted = indices[order]  # read in file order, runs of consecutive rows at once
        raw = np.empty((len(indices), *self.native_shape), dtype=self.files[0].dtype)
        shard = np.searchsorted(self.offsets, wanted, side="right") - 1
        breaks = np.flatnonzero((np.diff(wanted) != 1) | (np.diff(shard) != 0)) + 1
        starts, stops = np.r_[0, breaks], np.r_[breaks, len(wanted)]
        # One pread per run; the per-run work is plain Python on precomputed lists (it is the
        # cost of a random batch: one run per row).
        row_bytes, files = self.files[0].row_bytes, self.files
        view = memoryview(raw.reshape(-1).view(np.uint8))
        firsts = (wanted[starts] - self.offsets[shard[starts]]).tolist()
        for start, stop, s, first in zip(starts.tolist(), stops.tolist(), shard[starts].tolist(), firsts,
                                         strict=True):
            files[s].read(first, view[start * row_bytes:stop * row_bytes])
        for s in np.unique(shard).tolist():
            files[s].check_unchanged()
        out = np.empty((len(indices), *self.native_shape), dtype=self.dtype)
        out.reshape(len(indices), -1)[order] = raw.reshape(len(indices), -1)  # back to the asked order
        return out


class DatasetRows(RowSource):
    """A map-style ``torch.utils.data.Dataset`` (``len`` and ``dataset[i]``) as rows. An item is a
    sample (a tensor or an array) or a ``(sample, label)`` pair; samples must all have one shape
    and be uint8 or floating point (read as float32).

    ``workers`` > 0 reads training batches in that many worker processes (torch's DataLoader),
    for datasets whose items take work to make (decoding, augmenting); 0 reads them in the
    training thread. Either way the rows, and so the weights, are the same.
    """

    def __init__(self, dataset, name: str | None = None, workers: int = 0):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise InvalidInputError(f"workers must be an int >= 0, got {workers!r}")
        self.workers = workers
        iterable = type(dataset).__name__ == "IterableDataset" or any(
            c.__name__ == "IterableDataset" for c in type(dataset).__mro__)
        if iterable or not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise InvalidInputError("a dataset needs len(dataset) and dataset[i]; an IterableDataset "
                                    "cannot be shuffled by aekit: save it with np.save and stream that")
        if len(dataset) == 0:
            raise InvalidInputError("the dataset is empty")
        self.dataset, self.name = dataset, name or type(dataset).__name__
        first = self._sample(0)
        self.dtype = np.dtype(np.uint8) if first.dtype == np.uint8 else np.dtype(np.float32)
        self.native_shape = self.sample_shape = first.shape
        self.has_labels = isinstance(dataset[0], (tuple, list)) and len(dataset[0]) >= 2

    def __len__(self) -> int:
        return len(self.dataset)

    def _sample(self, i: int) -> np.ndarray:
        item = self.dataset[int(i)]
        if isinstance(item, (tuple, list)):
            item = item[0]
        if hasattr(item, "detach"):  # a torch tensor
            item = item.detach().cpu().numpy()
        array = np.asarray(item)
        if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
            raise InvalidInputError(f"{self.name}[{i}] is of type {array.dtype}: samples must be uint8 "
                                    "or floating point")
        return array

    def _take(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), *self.native_shape), dtype=self.dtype)
        for row, i in enumerate(indices):
            sample = self._sample(i)
            if sample.shape != self.native_shape:
                raise InvalidInputError(f"{self.name}[{i}] has shape {sample.shape}, but {self.name}[0] "
                                        f"has {self.native_shape}: every sample must have one shape")
            out[row] = sample
        return out

    def labels(self) -> np.ndarray:
        """Every item's label (one pass over the dataset)."""
        if not self.has_labels:
            raise InvalidInputError(f"{self.name} yields samples without labels")
        labels = []
        for i in range(len(self.dataset)):
            label = self.dataset[i][1]
            labels.append(label.item() if hasattr(label, "item") else label)
        return np.asarray(labels)


def _npz_member(path: Path, member: str) -> tuple[int, str]:
    """Where the .npy of ``member`` starts inside the archive, and a name for messages."""
    where = f"{path} [{member}]"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(member + ".npy")
        with open(path, "rb") as f:  # the member's data follow its local header
            f.seek(info.header_offset)
            local = f.read(30)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(f"{where}: not a readable member of an .npz archive ({exc})") from exc
    if info.compress_type != zipfile.ZIP_STORED:
        raise InvalidInputError(f"{where}: a compressed archive (np.savez_compressed) cannot be read by "
                                "rows; save it with np.save or np.savez to stream it")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length, where


def _open_npy(path: Path, start: int = 0, where: str | None = None) -> _NpyFile:
    """The .npy array at byte ``start`` of ``path`` (0: a .npy file; else an .npz member, named
    ``where`` in messages), its header checked before anything is read."""
    where = where or str(path)
    try:
        with open(path, "rb") as f:
            f.seek(start)
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{where}: not a readable .npy array ({exc})") from exc
    if len(shape) < 2:
        raise InvalidInputError(f"{where}: the samples have shape {shape}; aekit needs one row per "
                                "sample: (n, features), (n, H, W) or (n, C, H, W)")
    if dtype not in (np.uint8, np.float32, np.float64) or dtype.byteorder == ">":
        raise InvalidInputError(f"{where}: a streamed array must hold uint8, float32 or float64 samples "
                                f"(native byte order), not {dtype}")
    if fortran:
        raise InvalidInputError(f"{where}: a Fortran-ordered array cannot be read by rows; save it "
                                "with np.save(path, np.ascontiguousarray(X))")
    fd = os.open(path, os.O_RDONLY)
    info = os.fstat(fd)
    opened = _NpyFile(Path(where), fd, offset, shape[0], tuple(shape[1:]), np.dtype(dtype),
                      (info.st_size, info.st_mtime_ns))
    weakref.finalize(opened, os.close, fd)  # closed when no DiskArray reads it any more
    if info.st_size < offset + opened.rows * opened.row_bytes:
        raise InvalidInputError(f"{where}: the file is truncated: its header promises {shape[0]} rows")
    return opened


def chunk_rows(sample_size: int) -> int:
    """Rows per chunk of a full pass: depends only on the sample's size, so that every path
    (streamed or in memory) cuts the data at the same rows."""
    return max(1, CHUNK_BYTES // (8 * max(1, sample_size)))


def row_chunks(X) -> Iterator[np.ndarray]:
    """Consecutive row blocks of ``X`` (a NumPy array or a DiskArray), for full passes."""
    step = chunk_rows(math.prod(X.shape[1:]))
    for start in range(0, len(X), step):
        yield np.asarray(X[start:start + step])


def update_digest(h, data) -> None:
    """Feed every byte of ``data`` (a tensor, an array or a ``DiskArray``) to the hash ``h``, in
    row chunks: the same bytes give the same digest wherever they are held."""
    if hasattr(data, "detach"):  # a torch tensor
        data = data.detach().cpu().numpy()
    h.update(str((tuple(data.shape), str(np.dtype(data.dtype)))).encode())
    for chunk in row_chunks(data):
        h.update(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8))
