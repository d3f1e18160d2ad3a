"""Known factors (or attributes) of the samples, beside their features: what the latent
dimensions are evaluated against (``aekit evaluate --factors``) and trained to carry
(``aekit train --factors``, ``VAE.fit(X, attributes=...)``).

``factors`` names columns of the data's own table (kept out of the features) or factors a
built-in set generates, or one table file beside the data with a row per sample: matched to an
image folder's files by a ``file`` column (their paths relative to the folder), else taken in
the data's order. The data's ``factors`` are then those, and only those. A column of words is
read as categories; missing cells are NaN (unknown).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .dataset import Dataset

FILE_COLUMN = "file"


def factor_file(factors: list[str] | None, table_suffixes) -> Path | None:
    """The table file ``factors`` names (one entry ending in a table suffix), else None."""
    if factors and len(factors) == 1 and Path(factors[0]).suffix.lower() in table_suffixes:
        return Path(factors[0])
    return None


def column_values(column) -> np.ndarray:
    """A factor column as numbers: numeric as is, words as category codes; missing is NaN."""
    import pandas as pd

    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().sum() == column.notna().sum():
        return numeric.to_numpy(dtype=np.float64)
    codes, _ = pd.factorize(column.astype("string"), sort=True)
    return np.where(codes < 0, np.nan, codes).astype(np.float64)


def attach_factor_file(data: Dataset, path: Path, read_frame) -> Dataset:
    """``data`` with the factors of the table at ``path`` (every column but ``file``)."""
    if not path.is_file():
        raise InvalidInputError(f"--factors {path}: no such table file")
    frame = read_frame(path)
    columns = [c for c in frame.columns if c != FILE_COLUMN]
    if not columns:
        raise InvalidInputError(f"{path}: no factor columns besides {FILE_COLUMN!r}")
    if FILE_COLUMN in frame.columns:
        if data.ids is None:
            raise InvalidInputError(f"{path}: a {FILE_COLUMN!r} column matches an image folder's files; "
                                    f"{data.name} has no file names: drop the column to match rows in order")
        position = {str(name): i for i, name in enumerate(frame[FILE_COLUMN].astype(str))}
        missing = [str(i) for i in data.ids if str(i) not in position]
        if missing:
            raise InvalidInputError(f"{path}: no row for {len(missing)} file(s) of {data.name}, "
                                    f"e.g. {missing[0]!r}")
        frame = frame.iloc[[position[str(i)] for i in data.ids]]
    elif len(frame) != len(data):
        raise InvalidInputError(f"{path}: {len(frame)} rows for {len(data)} samples; give one row per "
                                f"sample (in order), or a {FILE_COLUMN!r} column naming each file")
    return dataclasses.replace(data, factors={str(c): column_values(frame[c]) for c in columns})
