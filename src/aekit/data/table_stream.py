"""Tables and time series larger than memory: converted a chunk at a time, then streamed.

A CSV cannot be read at a given row, and a Parquet file only a row group at a time, so a
streamed table is first converted (``aekit.data.converted``): one pass reads it in chunks
(pandas for CSV, pyarrow row batches for Parquet), applies the same checks and missing-value
policy as ``read_table`` to each chunk, and appends the feature values as float32 rows to a
file in the cache; labels and ids (one value per row) are kept beside it. Training then reads
rows from that file like any ``.npy``. A folder of tables (shards: .csv or .parquet files with
the same columns) converts into one table, its files in name order.

``missing="impute"`` fills a column's missing values with its median over a uniform sample
of ``IMPUTE_SAMPLE`` rows (all rows, and so the in-memory result, for smaller tables).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .converted import converted
from .dataset import Dataset
from .stream import DiskArray, chunk_rows, npy_file, row_chunks
from .tables import (
    TABLE_SUFFIXES,
    _check_header,
    check_window,
    csv_separator,
    numeric_block,
    parse_timestamps,
    timestamp_column_of,
    value_columns_of,
    windows_over,
)

IMPUTE_SAMPLE = 100_000


def table_files(path: Path) -> list[Path]:
    """The table, or a folder's tables (shards) in name order."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    if not files or any(p.suffix.lower() not in TABLE_SUFFIXES for p in files):
        raise InvalidInputError(f"{path}: a folder of table shards holds only .csv, .tsv or .parquet files")
    return files


def is_table_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in TABLE_SUFFIXES for p in path.iterdir())


def size_in_memory(path: Path) -> int:
    """Bytes a table (or a folder of them) takes loaded, estimated: a CSV's size, a Parquet
    file's cells as float64."""
    total = 0
    for file in table_files(path):
        if file.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            try:
                meta = pq.read_metadata(file)
            except (OSError, ValueError):
                continue  # unreadable: the reader will say so
            total += meta.num_rows * meta.num_columns * 8
        else:
            total += file.stat().st_size
    return total


def columns_of(path: Path) -> list[str]:
    """A table's column names, from its header or schema alone."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return [str(c) for c in pq.read_schema(path).names if not str(c).startswith("__index_level_")]
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise InvalidInputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from exc
    import pandas as pd

    sep = csv_separator(path)
    _check_header(path, sep)
    try:
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from exc


def chunks(files: list[Path], columns: list[str]) -> Iterator[tuple[Path, object, int]]:
    """(file, frame of ``columns``, first row of the frame in the whole table) for every chunk of
    every file. Parquet is read a row group at a time (pyarrow's batch iterator buffered several
    times the table's size here), so memory is bounded by the row groups the writer chose."""
    import pandas as pd

    rows, first = chunk_rows(len(columns)), 0
    for path in files:
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                parquet = pq.ParquetFile(path)
                groups = (parquet.read_row_group(g, columns=columns) for g in range(parquet.num_row_groups))
                frames = (group.slice(start, rows).to_pandas()
                          for group in groups for start in range(0, group.num_rows, rows))
            else:
                frames = pd.read_csv(path, sep=csv_separator(path), usecols=columns, chunksize=rows)
            for frame in frames:
                frame.columns = [str(c) for c in frame.columns]
                yield path, frame, first
                first += len(frame)
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InvalidInputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from exc
    if any(path.suffix.lower() in (".parquet", ".pq") for path in files):
        import pyarrow as pa

        # pyarrow's allocator keeps freed blocks for reuse: hand them back before training,
        # whose memory would otherwise come on top of them.
        pa.default_memory_pool().release_unused()


def _check_shards(files: list[Path]) -> list[str]:
    columns = columns_of(files[0])
    for path in files[1:]:
        if (theirs := columns_of(path)) != columns:
            raise InvalidInputError(f"{path}: its columns {theirs[:10]} are not those of "
                                    f"{files[0].name} {columns[:10]}: every shard must have the same columns")
    return columns


def _need(path: Path, columns: list[str], **named) -> None:
    for option, column in named.items():
        if column is not None and column not in columns:
            raise InvalidInputError(f"{path}: no column {column!r} ({option}); columns are {columns[:20]}")


def _convert(path: Path, files: list[Path], features: list[str], kept: list[str], missing: str) -> Path:
    """The cache folder of ``X.f32`` (float32 rows of ``features``), ``columns.parquet`` (the
    ``kept`` columns, e.g. label and id, of the rows kept) and ``meta.json``."""
    import pandas as pd

    def write(folder: Path) -> None:
        n, kept_parts = 0, []
        with open(folder / "X.f32", "wb") as out:
            for file, frame, first in chunks(files, features + kept):
                values, keep = numeric_block(frame, features, file, missing, first_row=first)
                out.write(values.tobytes())
                n += len(values)
                kept_parts.append(frame.loc[keep, kept].reset_index(drop=True))
        if n == 0:
            raise InvalidInputError(f"{path}: every row has a missing value; nothing is left to train on")
        if missing == "impute":
            _impute(path, folder / "X.f32", n, features)
        if kept:
            pd.concat(kept_parts, ignore_index=True).to_parquet(folder / "columns.parquet", index=False)
        (folder / "meta.json").write_text(json.dumps({"rows": n, "features": features}))

    identity = [str(f) for f in files] + [[f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return converted(path, "table", {"files": identity, "features": features, "kept": kept,
                                     "missing": missing}, write)


def _rows(folder: Path, name: str) -> DiskArray:
    meta = json.loads((folder / "meta.json").read_text())
    return DiskArray([npy_file(folder / "X.f32", 0, (meta["rows"], len(meta["features"])), np.float32)], name)


def _impute(path: Path, file: Path, n: int, features: list[str]) -> None:
    """Fill NaN with each column's median over a uniform sample of rows (all of them if few)."""
    rows = DiskArray([npy_file(file, 0, (n, len(features)), np.float32)], path.name)
    sample = np.sort(np.random.default_rng(0).choice(n, size=min(n, IMPUTE_SAMPLE), replace=False))
    values = rows.take(sample).astype(np.float64)
    medians = np.empty(len(features))
    for j, name in enumerate(features):
        finite = values[np.isfinite(values[:, j]), j]
        if len(finite) == 0:
            where = "" if n <= IMPUTE_SAMPLE else f" in a sample of {IMPUTE_SAMPLE:,} rows"
            raise InvalidInputError(f"{path}: column {name!r} has no values to impute from{where}")
        medians[j] = np.median(finite)
    medians = medians.astype(np.float32)
    filled = np.memmap(file, dtype=np.float32, mode="r+", shape=(n, len(features)))
    for start in range(0, n, chunk_rows(len(features))):
        block = filled[start:start + chunk_rows(len(features))]
        missing = ~np.isfinite(block)
        if missing.any():
            block[missing] = np.broadcast_to(medians, block.shape)[missing]
    filled.flush()
    del filled


def stream_table(path: Path, label_column: str | None = None, id_column: str | None = None,
                 feature_columns: list[str] | None = None, missing: str = "error") -> Dataset:
    """``read_table``'s table (or a folder of shards), its rows read from disk a batch at a time."""
    import pandas as pd

    files = table_files(path)
    columns = _check_shards(files)
    _need(path, columns, label_column=label_column, id_column=id_column)
    features = [str(c) for c in feature_columns] if feature_columns is not None else \
        [c for c in columns if c not in (label_column, id_column)]
    for column in features:
        _need(path, columns, feature_columns=column)
    if not features:
        raise InvalidInputError(f"{path}: no feature columns left")
    kept = [c for c in (label_column, id_column) if c is not None]
    folder = _convert(path, files, features, kept, missing)
    table = pd.read_parquet(folder / "columns.parquet") if kept else None
    y = table[label_column].to_numpy() if label_column else None
    if y is not None and y.dtype == object:
        y = y.astype(str)
    ids = table[id_column].to_numpy() if id_column else None
    return Dataset(_rows(folder, path.stem), y, path.stem, ids=ids, feature_names=features)


def stream_series(path: Path, window: int, stride: int | None = None, timestamp_column: str | None = None,
                  value_columns: list[str] | None = None, missing: str = "error",
                  time_order: str = "auto") -> Dataset:
    """``read_series``'s windows, over a series read from disk: neither the series nor its
    windows are ever held whole (the timestamps are)."""
    import pandas as pd

    stride = check_window(window, stride)
    files = table_files(path)
    columns = _check_shards(files)
    timestamp_column = timestamp_column_of(columns, timestamp_column)
    _need(path, columns, timestamp_column=timestamp_column)
    values_columns = value_columns_of(path, columns, timestamp_column, value_columns)
    folder = _convert(path, files, values_columns, [timestamp_column], missing)
    stamps = parse_timestamps(pd.read_parquet(folder / "columns.parquet")[timestamp_column], path,
                              timestamp_column)
    series = _rows(folder, path.stem)
    return windows_over(path, series, stamps, np.arange(len(stamps)), window, stride, values_columns,
                        time_order)


def channel(series, index: int) -> np.ndarray:
    """One channel of a series, in memory or read from disk a chunk at a time."""
    if isinstance(series, np.ndarray):
        return series[:, index]
    return np.concatenate([chunk[:, index] for chunk in row_chunks(series)])
