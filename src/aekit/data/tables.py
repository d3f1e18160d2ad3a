"""Tables (CSV, Parquet) and time series read from them.

Every feature column must be numeric. Text in a numeric column, or a missing value, is an
error naming the column and the row, unless the caller chooses a policy: ``missing="drop"``
drops those rows, ``missing="impute"`` fills them with the column's median.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .dataset import Dataset, Windows
from .stream import RowSource, WindowRows

MISSING_POLICIES = ("error", "drop", "impute")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


SEPARATORS = (",", ";", "\t", "|")


def csv_separator(path: Path) -> str:
    """The field separator of a text table: a tab for .tsv; else the first of comma, semicolon
    (Excel's in many locales), tab and bar that its header line holds (comma if none: one column)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline(1 << 20)
    except OSError:
        return ","  # reading the table says what is wrong
    return next((sep for sep in SEPARATORS if sep in header), ",")


def _check_header(path: Path, sep: str) -> None:
    """pandas renames a repeated column name ("a", "a.1"): refuse it instead, naming it."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f, delimiter=sep), [])
    except (OSError, csv.Error) as exc:
        raise InvalidInputError(f"{path}: cannot read the header ({exc})") from exc
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InvalidInputError(f"{path}: the header names the column(s) {repeated[:5]} more than once; "
                                "give every column its own name")


def read_frame(path: Path):
    import pandas as pd

    sep = csv_separator(path) if path.suffix.lower() in (".csv", ".tsv") else None
    if sep is not None:
        _check_header(path, sep)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep=sep)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, ImportError) as exc:
        raise InvalidInputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from exc
    if frame.empty or len(frame.columns) == 0:
        raise InvalidInputError(f"{path}: the table has no rows")
    return frame


def _row_label(path: Path, row: int) -> str:
    """A 0-based data row as the user finds it: CSV line numbers count the header line."""
    if path.suffix.lower() in (".csv", ".tsv"):
        return f"row {row} (line {row + 2} of the file)"
    return f"row {row}"


def _column_numbers(raw, name: str, path: Path, missing: str, at) -> np.ndarray:
    """One column's cells as float64 (NaN where missing), or why they cannot be features."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(raw) or pd.api.types.is_timedelta64_dtype(raw):
        raise InvalidInputError(
            f"{path}: column {name!r} holds dates or durations, not a feature; pass it as the id or "
            "timestamp column (--id-column, --timestamp-column), or choose --feature-columns")
    numbers = pd.to_numeric(raw, errors="coerce")
    text = numbers.isna() & raw.notna()
    if text.any():
        if text.mean() > 0.5:  # mostly text: a label, an id or a category, not a feature
            raise InvalidInputError(
                f"{path}: column {name!r} holds text ({raw[text].iloc[0]!r} in "
                f"{at(np.argmax(text.values))}); pass it as the label or id "
                "column, or choose the feature columns")
        if missing == "error":
            row = int(np.argmax(text.values))
            raise InvalidInputError(
                f"{path}: column {name!r}, {at(row)}: {raw.iloc[row]!r} is not a "
                "number; fix the file, or choose missing='drop' or 'impute' (--missing)")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_block(frame, columns: list[str], path: Path, missing: str,
                  first_row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The columns as float32 and a mask of the rows kept, after the missing-value policy.

    ``frame`` is the whole table, or a chunk of it starting at row ``first_row``: a chunk is
    not imputed (its missing values stay NaN until every chunk has been seen: see
    ``table_stream``) and may lose all its rows to ``missing="drop"``."""
    chunk = first_row is not None

    def at(row) -> str:  # the row as the user finds it in the file
        return _row_label(path, (first_row or 0) + int(row))

    if missing not in MISSING_POLICIES:
        raise InvalidInputError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        values[:, j] = _column_numbers(frame[name], name, path, missing, at)
    huge = np.abs(values) > np.finfo(np.float32).max  # would become infinite as float32
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise InvalidInputError(
            f"{path}: column {columns[col]!r}, {at(row)}: {values[row, col]:g} is beyond "
            f"the range of 32-bit floats (±{np.finfo(np.float32).max:.3g}); rescale the column")
    bad = ~np.isfinite(values)
    if bad.any() and missing == "error":
        row, col = np.argwhere(bad)[0]
        raise InvalidInputError(
            f"{path}: column {columns[col]!r}, {at(row)} is missing or not finite; "
            "fix the file, or choose missing='drop' or 'impute' (--missing)")
    keep = np.ones(len(frame), dtype=bool)
    if missing == "drop":
        keep = ~bad.any(axis=1)
        if not keep.any() and not chunk:
            raise InvalidInputError(f"{path}: every row has a missing value; nothing is left to train on")
    elif missing == "impute" and not chunk:
        for j in np.flatnonzero(bad.any(axis=0)):
            column = values[:, j]
            if not np.isfinite(column).any():
                raise InvalidInputError(f"{path}: column {columns[j]!r} has no values to impute from")
            column[~np.isfinite(column)] = np.median(column[np.isfinite(column)])
    return values[keep].astype(np.float32), keep


def _check_columns(frame, path: Path, **named) -> None:
    for option, column in named.items():
        if column is not None and column not in frame.columns:
            raise InvalidInputError(f"{path}: no column {column!r} ({option}); columns are "
                                    f"{list(frame.columns)[:20]}")


def read_table(path: Path, label_column: str | None = None, id_column: str | None = None,
               feature_columns: list[str] | None = None, missing: str = "error",
               factor_columns: list[str] | None = None) -> Dataset:
    """``factor_columns``: known factors of the rows (``data.factors``), kept out of the features."""
    from .factors import column_values

    frame = read_frame(path)
    _check_columns(frame, path, label_column=label_column, id_column=id_column)
    factor_columns = list(factor_columns or [])
    for column in factor_columns:
        _check_columns(frame, path, factors=column)
    if feature_columns is None:
        feature_columns = [c for c in frame.columns if c not in (label_column, id_column, *factor_columns)]
    for column in feature_columns:
        _check_columns(frame, path, feature_columns=column)
    if not feature_columns:
        raise InvalidInputError(f"{path}: no feature columns left")
    X, keep = numeric_block(frame, [str(c) for c in feature_columns], path, missing)
    y = frame[label_column].to_numpy()[keep] if label_column else None
    ids = frame[id_column].to_numpy()[keep] if id_column else None
    if y is not None and y.dtype == object:
        y = y.astype(str)
    factors = {str(c): column_values(frame[c])[keep] for c in factor_columns}
    return Dataset(X, y, path.stem, ids=ids, feature_names=[str(c) for c in feature_columns], factors=factors)


def read_series(path: Path, window: int, stride: int | None = None,
                timestamp_column: str | None = None, value_columns: list[str] | None = None,
                missing: str = "error", time_order: str = "auto") -> Dataset:
    """Sliding windows over a time series: X is (n_windows, window * channels), channel-major.

    The timestamp column is ``timestamp_column`` or, by default, one named "timestamp" or
    "time", else the first column.
    """
    stride = check_window(window, stride)
    frame = read_frame(path)
    timestamp_column = timestamp_column_of(list(frame.columns), timestamp_column)
    _check_columns(frame, path, timestamp_column=timestamp_column)
    value_columns = value_columns_of(path, list(frame.columns), timestamp_column, value_columns)
    values, keep = numeric_block(frame, value_columns, path, missing)
    stamps = parse_timestamps(frame[timestamp_column], path, timestamp_column)[keep]
    return windows_over(path, values, stamps, np.flatnonzero(keep), window, stride, value_columns, time_order)


def check_window(window, stride) -> int:
    """The stride (default: a quarter of the window), after checking both."""
    if not isinstance(window, int) or window < 2:
        raise InvalidInputError(f"window must be an integer >= 2, got {window!r}")
    stride = stride or max(1, window // 4)
    if stride < 1:
        raise InvalidInputError(f"stride must be >= 1, got {stride}")
    return stride


def timestamp_column_of(columns: list, given: str | None):
    """``given``, else a column named "timestamp" or "time", else the first."""
    if given is not None:
        return given
    lowered = {str(c).lower(): c for c in columns}
    return lowered.get("timestamp", lowered.get("time", columns[0]))


def value_columns_of(path: Path, columns: list, timestamp_column, given: list[str] | None) -> list[str]:
    values = given if given is not None else [str(c) for c in columns if c != timestamp_column]
    if not values:
        raise InvalidInputError(f"{path}: no value columns besides the timestamp {timestamp_column!r}")
    return values


def parse_timestamps(column, path: Path | None = None, name=None) -> np.ndarray:
    """Dates where the column holds dates; numbers (a step counter) or text labels as they are.
    A column of dates with a cell that is not one is refused, naming the row."""
    import pandas as pd

    with warnings.catch_warnings():  # pandas guessing each cell's format is not the user's concern
        warnings.simplefilter("ignore", UserWarning)
        stamps = pd.to_datetime(column, errors="coerce")
    if pd.api.types.is_numeric_dtype(column) and stamps.isna().any():
        return column.to_numpy()  # a counter with gaps stays a counter
    unparsed = (stamps.isna() & column.notna()).to_numpy()
    if not unparsed.any():
        return stamps.to_numpy()
    if unparsed.all():  # labels, not times: the file's order is the series' order
        return column.astype(str).to_numpy()
    row = int(np.argmax(unparsed))
    where = _row_label(path, row) if path is not None else f"row {row}"
    raise InvalidInputError(f"{path}: timestamp column {name!r}, {where}: {column.iloc[row]!r} is not a "
                            "date as the column's other cells are; fix the file, or name another column "
                            "with --timestamp-column")


def windows_over(path: Path, values, stamps: np.ndarray, rows: np.ndarray, window: int, stride: int,
                 value_columns: list[str], time_order: str, name: str | None = None) -> Dataset:
    """The windows of a series ``values`` ((T, channels): an array, or rows read from disk, whose
    windows are then read on demand too) with timestamps ``stamps`` from file rows ``rows``."""
    order = time_order_of(path, stamps, rows, time_order)
    if order is not None:
        stamps = stamps[order]
        values = values.subset(order) if isinstance(values, RowSource) else values[order]
    if window > len(values):
        raise InvalidInputError(f"{path}: window {window} is longer than the series ({len(values)} rows); "
                                f"use a window of at most {len(values)}")
    starts = np.arange(0, len(values) - window + 1, stride)
    if isinstance(values, RowSource):
        X = WindowRows(values, starts, window)
    else:  # (n_windows, window, channels) -> channel-major rows: each channel's window is contiguous
        X = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(values, window, axis=0)[starts]
                                 .reshape(len(starts), -1))
    return Dataset(X, None, name or path.stem, ids=stamps[starts],
                   feature_names=[f"{c}[t+{k}]" for c in value_columns for k in range(window)],
                   windows=Windows(stamps, starts, window, values, tuple(map(str, value_columns))))


TIME_ORDERS = ("auto", "file", "sort", "error")
# Real clocks step back now and then (daylight saving repeats an hour; a sensor sends two
# readings under one timestamp: NAB's machine_temperature and ec2_request_latency series both do),
# and there the file's order is the true one. A file whose rows were shuffled steps back about
# every other row. "auto" tells the two apart by the share of steps that do not go forward.
AUTO_MAX_BACKWARD_SHARE = 0.01


def time_order_of(path: Path, stamps: np.ndarray, rows: np.ndarray, order: str) -> np.ndarray | None:
    """The order of the rows the windows follow, or None for the file's (see TIME_ORDERS and
    docs/data.md); ``rows`` are the file rows of ``stamps``, for messages."""
    import pandas as pd

    if order not in TIME_ORDERS:
        raise InvalidInputError(f"time_order must be one of {TIME_ORDERS}, got {order!r}")
    if np.asarray(stamps).dtype == object:  # text labels: no time to check, the file's order it is
        return None
    if order == "sort":
        by_time = np.argsort(stamps, kind="stable")  # rows with one timestamp keep their order
        return None if np.array_equal(by_time, np.arange(len(stamps))) else by_time
    steps = pd.Series(stamps).diff().iloc[1:]
    if pd.api.types.is_timedelta64_dtype(steps):
        back = (steps <= pd.Timedelta(0)).to_numpy()
    else:
        back = (steps <= 0).to_numpy()
    if order == "file" or not back.any():
        return None
    first = int(np.flatnonzero(back)[0]) + 1  # the row whose timestamp is not after the previous one
    shown = pd.Timestamp if np.issubdtype(np.asarray(stamps).dtype, np.datetime64) else str
    where = (f"{_row_label(path, int(rows[first]))} has timestamp {shown(stamps[first])}, not after "
             f"{shown(stamps[first - 1])}")
    share = back.mean()
    if order == "auto" and share <= AUTO_MAX_BACKWARD_SHARE:
        warnings.warn(f"{path}: {back.sum()} of {len(back)} rows do not come after the previous one in "
                      f"time (first: {where}); windows follow the file's order, as for a clock set back. "
                      "Pass time_order='sort' (--time-order sort) to sort by time instead", stacklevel=5)
        return None
    raise InvalidInputError(f"{path}: the rows are not in time order ({back.sum()} of {len(back)} steps go "
                            f"back or repeat; first: {where}). Pass time_order='sort' (--time-order sort) "
                            "to sort them by time, or 'file' to keep the file's order")
