"""Data sources: one ``load(source, ...)`` for the Python API and every CLI verb.

``source`` is a built-in name (``digits``, ``shapes``, ``parabola``, ``photos``), a named IDX
set (``fashion-mnist``, ``mnist``, ``kmnist``), or a path: a folder of images, of ``.npy`` shards
or of table shards, a ``.npy``/``.npz`` array, an IDX file (raw or ``.gz``), a CSV/TSV/Parquet
table, which becomes sliding windows when ``window`` is given, or a Hugging Face dataset folder.
Any source but the built-ins can be read from disk a batch at a time (``stream``). See
docs/data.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np

from .._memory import available_bytes
from ..errors import InvalidInputError
from . import builtins
from .dataset import Dataset, Windows
from .datasets import is_hugging_face_folder, load_hugging_face
from .factors import attach_factor_file, factor_file
from .idx import check_samples, idx_size, open_idx, read_idx
from .images import IMAGE_SUFFIXES, ImageFolderRows, read_image_folder
from .named import NAMED_SETS, load_named
from .options import DataOptions
from .stream import DiskArray
from .table_stream import is_table_folder, stream_series, stream_table
from .table_stream import size_in_memory as table_size_in_memory
from .tables import MISSING_POLICIES, TABLE_SUFFIXES, read_frame, read_series, read_table

__all__ = ["load", "Dataset", "DataOptions", "Windows", "BUILTINS", "NAMED_SETS", "MISSING_POLICIES"]

BUILTINS = tuple(builtins.BUILTINS)


def load(source: str | Path, **options) -> Dataset:
    """Load data from a name or a path.

    ``source`` is a built-in or named set, or a path (folder of images, of .npy or of table
    shards; .npy, .npz, IDX, .csv, .tsv, .parquet; a Hugging Face dataset saved with
    save_to_disk). ``options`` are the fields of :class:`~aekit.data.options.DataOptions`
    (each is also a flag of every CLI verb that reads data), among them:

    * ``split``: "train" or "test", for named IDX sets (any split of a Hugging Face DatasetDict);
    * ``label_column``, ``id_column``, ``feature_columns``: columns of a table
      (``label_column`` also names an .npz archive's array of labels; default "y"); ``array``:
      the .npz array (default "X") or Hugging Face column that holds the samples;
    * ``missing``: "error", "drop" or "impute" (median) for missing or non-numeric cells;
    * ``factors``: known factors of the samples, into ``Dataset.factors``: columns of the
      table, or a table file with a row per sample (``aekit.data.factors``);
    * ``window``, ``stride``, ``timestamp_column``, ``time_order``: a table as sliding windows
      over its rows; rows whose timestamps step back or repeat are kept in the file's order
      with a warning when at most 1% of steps do ("auto"), else refused ("sort" sorts them);
    * ``size``, ``channels``, ``alpha``, ``skip_bad``: how image folders are decoded (``size``
      is also the side of the generated ``shapes``/``photos``; ``count`` and ``random_state``
      how many samples generated built-ins make, and their seed);
    * ``stream``: read the samples from disk a batch at a time (``X`` is then an
      ``aekit.data.stream.RowSource``) instead of loading them: True, False, or "auto": when
      they would take more than ``max_memory`` (default: half of the memory available). Every
      source streams but the built-ins (docs/data.md); ``workers``: decode a streamed image
      folder in this many worker processes (0: two threads).

    Examples
    --------
    >>> from aekit.data import load
    >>> ds = load("digits")
    >>> ds.X.shape, ds.X.dtype, ds.y[:3].tolist()
    ((1797, 1, 8, 8), dtype('uint8'), [0, 1, 2])
    >>> load("shapes", count=4, size=32).factors["shape"].tolist()
    [2, 1, 1, 0]
    """
    opts = DataOptions.of(options)
    if opts.stream not in (True, False, "auto"):
        raise InvalidInputError(f"stream must be True, False or 'auto', got {opts.stream!r}")
    table = factor_file(opts.factors, TABLE_SUFFIXES)
    if table is not None:
        return attach_factor_file(_load(source, dataclasses.replace(opts, factors=None)), table, read_frame)
    data = _load(source, opts)
    if not opts.factors:
        return data
    unknown = [name for name in opts.factors if name not in data.factors]
    if unknown:
        known = f"its factors are {sorted(data.factors)}" if data.factors else "it has none"
        raise InvalidInputError(f"{source}: no factor {unknown[0]!r} ({known}); --factors names columns "
                                "of a table read in memory (not streamed, not windows), factors of a "
                                "built-in set, or a table file with a row per sample")
    return dataclasses.replace(data, factors={name: data.factors[name] for name in opts.factors})


def _load(source, opts: DataOptions) -> Dataset:
    name = str(source)
    if name in BUILTINS:
        return _builtin(name, opts)
    if name in NAMED_SETS:
        return load_named(name, opts.split, stream=opts.stream is True)
    path = Path(name)
    if not path.exists():
        raise InvalidInputError(f"no data at {name!r}: give a path, or one of "
                                f"{BUILTINS + tuple(NAMED_SETS)}")
    if path.is_file() and path.stat().st_size == 0:
        raise InvalidInputError(f"{path}: the file is empty")
    if is_hugging_face_folder(path):
        return _hugging_face(path, opts)
    streaming = _should_stream(path, opts.stream, opts.max_memory, opts.window, opts.stride)
    if path.is_dir():
        return _folder(path, streaming, opts)
    return _file(path, streaming, opts)


def _builtin(name: str, opts: DataOptions) -> Dataset:
    if name == "digits":
        return builtins.digits()
    generated = {"random_state": opts.random_state}
    if opts.count is not None:
        generated["count"] = opts.count
    if name == "parabola":
        return builtins.parabola(**generated)
    side = {"size": _side(opts.size)} if opts.size is not None else {}
    return getattr(builtins, name)(**generated, **side)


def _folder(path: Path, streaming: bool, opts: DataOptions) -> Dataset:
    """A folder: of table shards, of .npy shards, or of images."""
    if is_table_folder(path):
        return _table(path, streaming, opts)
    if any(path.glob("*.npy")):
        return _shards(path, streaming)
    if streaming:
        rows = ImageFolderRows(path, opts.channels, _pair(opts.size), opts.skip_bad, opts.alpha, opts.workers)
        return Dataset(rows, rows.labels, rows.name, ids=rows.ids)
    return read_image_folder(path, opts.channels, _pair(opts.size), opts.skip_bad, opts.alpha)


def _file(path: Path, streaming: bool, opts: DataOptions) -> Dataset:
    """One file: a table (or time series), an array, an archive or an IDX file."""
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES and streaming:
        return _table(path, streaming, opts)
    if suffix in TABLE_SUFFIXES:
        if opts.window is not None:
            return read_series(path, opts.window, opts.stride, opts.timestamp_column,
                               opts.feature_columns, opts.missing, opts.time_order)
        return read_table(path, opts.label_column, opts.id_column, opts.feature_columns, opts.missing,
                          opts.factors)
    if opts.window is not None:
        raise InvalidInputError(f"{path}: --window applies to time-series tables (.csv, .parquet)")
    if suffix == ".npy":
        return Dataset(DiskArray.open(path) if streaming else _read_npy(path), None, path.stem)
    if suffix == ".npz":
        return _read_npz(path, opts.array, opts.label_column, streaming)
    if _is_idx(path):
        check_samples(path)
        return Dataset(open_idx(path) if streaming else read_idx(path), None, path.name.split(".")[0])
    if suffix in IMAGE_SUFFIXES:
        raise InvalidInputError(f"{path}: give the folder that holds the images, not one image")
    raise InvalidInputError(f"{path}: unsupported format; use an image folder, .npy, .npz, IDX, "
                            ".csv, .tsv or .parquet")


def _is_idx(path: Path) -> bool:
    return "idx" in path.name or "-ubyte" in path.name


def _should_stream(path: Path, stream, max_memory: int | None, window: int | None = None,
                   stride: int | None = None) -> bool:
    """Whether to read the source from disk a batch at a time (see ``load``'s ``stream``)."""
    shards = path.is_dir() and any(path.glob("*.npy"))
    if shards and any(p.suffix.lower() != ".npy" for p in path.iterdir() if not p.name.startswith(".")):
        raise InvalidInputError(f"{path}: a folder of shards holds only .npy files")
    if stream != "auto":
        return stream
    budget = available_bytes() // 2 if max_memory is None else max_memory
    size = _size_in_memory(path)
    if window is not None and isinstance(window, int) and window > 1:
        size = size * window // max(1, stride or max(1, window // 4))  # the windows overlap
    return size > budget


def _size_in_memory(path: Path) -> int:
    """Bytes the source's samples take loaded (estimated where decoding is needed)."""
    if path.is_dir() and any(path.glob("*.npy")):
        return sum(f.stat().st_size for f in path.glob("*.npy"))
    if is_table_folder(path) or path.suffix.lower() in TABLE_SUFFIXES:
        return table_size_in_memory(path)
    if path.is_dir():
        return _decoded_size_estimate(path)
    if _is_idx(path):
        with contextlib.suppress(InvalidInputError):
            return idx_size(path)
    return path.stat().st_size


def _hugging_face(path: Path, opts: DataOptions) -> Dataset:
    """A Hugging Face dataset folder: its Arrow files are read a batch at a time when streaming
    (always with ``stream=True``; with "auto" when its samples exceed the budget)."""
    rows = load_hugging_face(path, opts.split, opts.array, opts.label_column)
    labels = rows.labels() if rows.has_labels else None
    budget = available_bytes() // 2 if opts.max_memory is None else opts.max_memory
    if opts.stream is False or (opts.stream == "auto" and rows.nbytes <= budget):
        return Dataset(rows[0:len(rows)], labels, rows.name)
    return Dataset(rows, labels, rows.name)


def _table(path: Path, streaming: bool, opts: DataOptions) -> Dataset:
    """A table or a folder of them, converted to rows read from disk (loaded if not streaming)."""
    if opts.window is not None:
        data = stream_series(path, opts.window, opts.stride, opts.timestamp_column, opts.feature_columns,
                             opts.missing, opts.time_order)
    else:
        data = stream_table(path, opts.label_column, opts.id_column, opts.feature_columns, opts.missing)
    if streaming:
        return data
    X = data.X[0:len(data.X)]
    windows = data.windows
    if windows is not None:
        windows = dataclasses.replace(windows, values=windows.values[0:len(windows.values)])
    return dataclasses.replace(data, X=X, windows=windows)


def _decoded_size_estimate(folder: Path) -> int:
    """Bytes an image folder takes decoded, guessed from the count of image files and the first
    one's size (as RGB): enough to tell a folder that fits in memory from one that does not."""
    from PIL import Image

    files = (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    first = next(files, None)
    if first is None:
        return 0
    try:
        with Image.open(first) as image:
            width, height = image.size
    except Exception:  # unreadable: the reader will say so
        return 0
    return (1 + sum(1 for _ in files)) * 3 * width * height


def _shards(path: Path, streaming: bool) -> Dataset:
    """A folder of .npy shards: one array, read from disk or (small enough) loaded."""
    disk = DiskArray.open(path)
    return Dataset(disk if streaming else disk[0:len(disk)], None, disk.name)


def _side(size) -> int:
    if isinstance(size, (tuple, list)):
        if size[0] != size[1]:
            raise InvalidInputError(f"this built-in makes square images; got size {tuple(size)}")
        return int(size[0])
    return int(size)


def _pair(size) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or min(pair) < 1:
        raise InvalidInputError(f"size must be a positive int or (H, W), got {size!r}")
    return pair


def _numeric(array: np.ndarray, where: str) -> np.ndarray:
    """Samples must be real numbers: say so, naming the file, for anything else."""
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise InvalidInputError(f"{where}: the samples are of type {array.dtype}; aekit needs real numbers "
                                "(integers or floats)")
    if array.ndim < 2:
        raise InvalidInputError(f"{where}: the samples have shape {array.shape}; aekit needs one row per "
                                "sample: (n, features), (n, H, W) or (n, C, H, W)")
    return array


def _read_npy(path: Path) -> np.ndarray:
    try:
        # Large arrays are memory-mapped: pages are read as batches touch them.
        array = np.load(path, allow_pickle=False, mmap_mode="r" if path.stat().st_size > 1 << 28 else None)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a readable .npy array ({exc})") from exc
    return _numeric(array, str(path))


NPZ_SAMPLES, NPZ_LABELS, NPZ_IDS = "X", "y", "ids"


def _read_npz(path: Path, array: str | None = None, labels: str | None = None,
              streaming: bool = False) -> Dataset:
    """The samples are the array named ``array`` (default "X"), labels ``labels`` (default "y"
    if present), ids "ids" if present. Never a guess: another array is not used in X's place.
    ``streaming``: the samples are read from disk a batch at a time (labels and ids loaded)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            x_key = array or NPZ_SAMPLES
            if x_key not in keys:
                named = f"no array {x_key!r}" + ("" if array else " (the samples)")
                raise InvalidInputError(f"{path}: the archive has {named}; its arrays are {keys[:10]}. "
                                        "Name the array of samples with array= (--array NAME)")
            y_key = labels or (NPZ_LABELS if NPZ_LABELS in keys else None)
            if y_key is not None and y_key not in keys:
                raise InvalidInputError(f"{path}: the archive has no array {y_key!r}; "
                                        f"its arrays are {keys[:10]}")
            X = DiskArray.open(path, member=x_key) if streaming else _numeric(npz[x_key], f"{path} [{x_key}]")
            return Dataset(X, npz[y_key] if y_key else None, path.stem,
                           ids=npz[NPZ_IDS] if NPZ_IDS in keys else None)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a readable .npz archive ({exc})") from exc
