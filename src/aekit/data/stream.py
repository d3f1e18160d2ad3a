"""Arrays larger than memory: read from disk a batch at a time.

A :class:`RowSource` is rows produced on demand, indexed like an array. The sources:
:class:`DiskArray`, one ``.npy`` file or a folder of ``.npy`` shards (the same sample shape and
dtype, taken in name order; also a raw IDX file or a converted table, rows at an offset) seen
as one array of rows; :class:`WindowRows`, sliding windows over a series; and views of
another source's rows (``subset``) or columns (:class:`ColumnRows`). Training gathers each
batch's rows from it (``take``) and inference reads consecutive rows (``X[start:stop]``);
nothing holds the whole array. Rows are read with ``pread`` into new arrays, not memory-mapped: the operating
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
    a new array) and NumPy's row indexing (``X[i]``, slices, index arrays, masks). Subclasses
    implement ``_take`` for their native sample shape; ``with_sample_shape`` views the rows in
    another shape of the same size ((H, W) -> (1, H, W)).
    """

    name: str
    dtype: np.dtype
    native_shape: tuple[int, ...]
    sample_shape: tuple[int, ...]
    feature_names: list[str] | None = None  # a table's column names, as a DataFrame's columns
    # What a source can do, declared by each kind (never probed): reads may run in several
    # threads at once; training batches are read in this many worker processes; ``labels()``
    # gives a label per row; the rows are one array in memory (``array``, in the sample shape).
    thread_safe: bool = False
    workers: int = 0
    has_labels: bool = False
    in_memory: bool = False

    @property
    def array(self) -> np.ndarray:
        raise TypeError(f"{self.name} is read a batch at a time: it is not one array in memory")

    def labels(self) -> np.ndarray:
        raise TypeError(f"{self.name} has no labels")

    def named(self, feature_names: list[str]) -> RowSource:
        """The same rows, their features named (estimators record them as ``feature_names_in_``)."""
        view = copy.copy(self)
        view.feature_names = list(feature_names)
        return view

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
        indices = self._checked(indices)
        return self._take(indices).reshape(len(indices), *self.sample_shape)

    def _checked(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row indices must lie in [0, {len(self)})")
        return indices

    def __getitem__(self, key) -> np.ndarray:
        """Rows as NumPy indexes them: ``X[i]`` (one sample), ``X[start:stop:step]``, ``X[indices]``
        or ``X[mask]``; only those rows are read."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            index = int(key) + (len(self) if key < 0 else 0)
            return self.take([index])[0]
        if isinstance(key, slice):
            return self.take(np.arange(*key.indices(len(self))))
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (len(self),):
                raise IndexError(f"a mask of {key.shape} cannot select among {len(self)} rows")
            key = np.flatnonzero(key)
        elif not np.issubdtype(key.dtype, np.integer):
            raise IndexError(f"rows are selected by int, slice, index array or mask, not {key.dtype}")
        return self.take(np.where(key < 0, key + len(self), key))

    def subset(self, indices) -> RowSource:
        """The rows ``indices`` as a RowSource of their own: nothing is read until asked."""
        return _Subset(self, self._checked(indices))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self.name} is read a batch at a time: aekit never loads it whole")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class _Subset(RowSource):
    """Some rows of another RowSource, in a given order (``RowSource.subset``)."""

    def __init__(self, parent: RowSource, indices: np.ndarray):
        self.parent, self.indices = parent, indices
        self.name, self.dtype = parent.name, parent.dtype
        self.native_shape = self.sample_shape = parent.sample_shape
        self.thread_safe, self.workers = parent.thread_safe, parent.workers

    def __len__(self) -> int:
        return len(self.indices)

    def _take(self, indices: np.ndarray) -> np.ndarray:
        return self.parent.take(self.indices[indices])


class ColumnRows(RowSource):
    """Some columns of a table's rows, in a given order (a model's column order)."""

    def __init__(self, parent: RowSource, columns):
        self.parent, self.columns = parent, np.asarray(columns, dtype=np.int64)
        self.name, self.dtype = parent.name, parent.dtype
        self.native_shape = self.sample_shape = (len(self.columns),)
        self.thread_safe = parent.thread_safe

    def __len__(self) -> int:
        return len(self.parent)

    def _take(self, indices: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.parent.take(indices).reshape(len(indices), -1)[:, self.columns])


class WindowRows(RowSource):
    """Sliding windows over a series ``(T, channels)`` (rows read on demand, or an array), each
    read when asked as one channel-major row ``(channels * window,)``, as
    ``aekit.data.tables.read_series`` lays them out: the windows never exist all at once."""

    def __init__(self, series, starts: np.ndarray, window: int):
        self.series, self.starts, self.window = series, np.asarray(starts, dtype=np.int64), window
        self.name = getattr(series, "name", "series")
        self.dtype = np.dtype(series.dtype)
        self.native_shape = self.sample_shape = (series.shape[1] * window,)
        self.thread_safe = series.thread_safe if isinstance(series, RowSource) else True

    def __len__(self) -> int:
        return len(self.starts)

    def _take(self, indices: np.ndarray) -> np.ndarray:
        rows = (self.starts[indices][:, None] + np.arange(self.window)).reshape(-1)
        if isinstance(self.series, RowSource):
            # Overlapping windows share rows: read each once (in runs), then lay them out.
            unique, where = np.unique(rows, return_inverse=True)
            series = self.series.take(unique)[where]
        else:
            series = self.series[rows]
        # (windows, time, channels) -> (windows, channels, time): each channel's window contiguous
        return np.ascontiguousarray(series.reshape(len(indices), self.window, -1).transpose(0, 2, 1))


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
    return npy_file(path, offset, shape, dtype, where)


def npy_file(path: Path, offset: int, shape: tuple[int, ...], dtype, where: str | None = None) -> _NpyFile:
    """Rows of ``shape`` and ``dtype`` stored from byte ``offset`` of ``path`` on, opened for
    reading (the file must hold them all)."""
    fd = os.open(path, os.O_RDONLY)
    info = os.fstat(fd)
    opened = _NpyFile(Path(where or path), fd, offset, shape[0], tuple(shape[1:]), np.dtype(dtype),
                      (info.st_size, info.st_mtime_ns))
    weakref.finalize(opened, os.close, fd)  # closed when no DiskArray reads it any more
    if info.st_size < offset + opened.rows * opened.row_bytes:
        raise InvalidInputError(f"{where or path}: the file is truncated: the header promises "
                                f"{shape[0]} rows")
    return opened


def select_rows(X, indices):
    """Rows ``indices`` of ``X``: a copy of them for an array, a view (read when asked) for rows
    read on demand, so that a large selection of a large source is never loaded."""
    return X.subset(indices) if isinstance(X, RowSource) else X[indices]


def write_npy_header(f, shape: tuple[int, ...], dtype) -> None:
    """Start a .npy file of C-ordered ``shape`` and ``dtype`` whose rows the caller then writes."""
    np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                             "fortran_order": False, "shape": tuple(shape)})


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
    digest_header(h, data)
    for chunk in row_chunks(data):
        digest_chunk(h, chunk)


def digest_header(h, data) -> None:
    """The shape and dtype, hashed first: the same bytes in another layout differ."""
    h.update(str((tuple(data.shape), str(np.dtype(data.dtype)))).encode())


def digest_chunk(h, chunk: np.ndarray) -> None:
    h.update(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8))
