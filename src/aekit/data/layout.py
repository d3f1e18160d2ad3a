"""How a model reads a data set: table columns matched by name, and windows of a series laid
out flat (one row, channel after channel, as ``load(window=W)`` gives them) or as
``(channels, time)`` sequences (what a temporal network reads). The rules live here once; the
verbs, ``aekit watch`` and ``StreamDetector`` ask them."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InvalidInputError
from .dataset import Dataset
from .stream import ColumnRows, RowSource

# What a network option becomes for windows of a series: "auto" reads them as sequences.
SEQUENCE_NETWORKS = ("auto", "temporal")


def window_layout(input_shape: tuple[int, ...], channels: int) -> tuple[int, bool]:
    """(window length, whether the model reads (channels, window) sequences) for a model of
    ``input_shape`` watching ``channels`` value columns."""
    if len(input_shape) == 2:
        if input_shape[0] != channels:
            raise InvalidInputError(f"the model reads windows of {input_shape[0]} channel(s); the series has "
                                    f"{channels} value column(s)")
        return input_shape[1], True
    if len(input_shape) != 1 or input_shape[0] % channels or input_shape[0] // channels < 2:
        raise InvalidInputError(f"a model of samples shaped {input_shape} does not read windows of "
                                f"{channels} value column(s)")
    return input_shape[0] // channels, False


def for_training(data: Dataset, network) -> tuple[Dataset, object]:
    """The data and network a training run uses: windows with an "auto" (or "temporal")
    network train a temporal network on ``(channels, time)`` sequences."""
    if data.windows is not None and isinstance(network, str) and network in SEQUENCE_NETWORKS:
        return as_sequences(data), "temporal"
    return data, network


def as_sequences(data: Dataset) -> Dataset:
    """Windows of several value columns as ``(channels, time)`` samples."""
    if data.windows is None or data.windows.channels == 1:
        return data
    shape = (data.windows.channels, data.windows.length)
    X = data.X.with_sample_shape(shape) if isinstance(data.X, RowSource) else \
        np.asarray(data.X).reshape(len(data.X), *shape)
    return dataclasses.replace(data, X=X, feature_names=None)


def as_model_reads(data: Dataset, feature_names, input_shape: tuple[int, ...]) -> Dataset:
    """``data`` as a model fitted on samples of ``input_shape`` (with these column names, or
    None) reads it: its columns in the model's order, windows as sequences if so."""
    data = matched_columns(data, feature_names)
    return as_sequences(data) if len(input_shape) == 2 and data.windows else data


def matched_columns(data: Dataset, names) -> Dataset:
    """``data`` with its table columns in the order of ``names``, matched by name.

    A model trained on a table stores its column names; a file whose columns come in another
    order is reordered, and one that lacks or adds columns is refused, never read by position.
    """
    if names is None or data.feature_names is None or list(names) == list(data.feature_names):
        return data
    have, need = list(data.feature_names), [str(n) for n in names]
    missing, extra = [n for n in need if n not in have], [n for n in have if n not in need]
    if missing or extra:
        missing_text = f"Missing: {missing[:5]}. " if missing else ""
        extra_text = f"Not in the model: {extra[:5]}. " if extra else ""
        raise InvalidInputError(
            f"{data.name}: its columns do not match the model's ({len(need)} columns). {missing_text}"
            f"{extra_text}Choose the columns with --feature-columns, --label-column or --id-column")
    order = [have.index(n) for n in need]
    X = ColumnRows(data.X, order) if isinstance(data.X, RowSource) else \
        np.ascontiguousarray(np.asarray(data.X)[:, order])
    return Dataset(X, data.y, data.name, ids=data.ids,
                   feature_names=need, factors=data.factors, windows=data.windows)


def named_samples(data: Dataset):
    """The samples with their features named when the data are a table (a DataFrame, or named
    rows read on demand), so that a model records its column names; else as they are."""
    if data.feature_names is None:
        return data.X if isinstance(data.X, RowSource) else np.asarray(data.X)
    if isinstance(data.X, RowSource):
        return data.X.named(data.feature_names)
    import pandas as pd

    return pd.DataFrame(np.asarray(data.X), columns=data.feature_names, copy=False)


def loaded(data: Dataset, why: str) -> Dataset:
    """``data`` with its samples in memory, for work that needs them whole, if memory allows."""
    from .._memory import require_memory

    if not isinstance(data.X, RowSource):
        return data
    require_memory(data.X.nbytes, f"{data.name} in memory", why)
    return dataclasses.replace(data, X=data.X[0:len(data.X)])
