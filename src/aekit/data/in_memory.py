"""Data held in memory, seen as rows: the one type everything inside aekit reads.

Whatever a user hands in (an array, a table, a tensor, rows on disk, a torch or Hugging Face
dataset) is wrapped once, where it enters (:func:`on_demand`, :class:`ArrayRows`); from there on
estimators, training and tasks speak ``RowSource`` only, and ask what it can do from the
capabilities it declares (``in_memory``, ``thread_safe``, ``workers``, ``has_labels``).
"""

from __future__ import annotations

import numpy as np

from .datasets import is_hugging_face, rows_of
from .stream import RowSource


class ArrayRows(RowSource):
    """An array's rows (no copy): slices are views, indexing is NumPy's."""

    thread_safe = True
    in_memory = True

    def __init__(self, array: np.ndarray, name: str = "X"):
        self._array, self.name = array, name
        self.dtype = array.dtype
        self.native_shape = self.sample_shape = tuple(array.shape[1:])

    @property
    def array(self) -> np.ndarray:
        """The rows in the sample shape (a view of the array handed in)."""
        return self._array.reshape(len(self._array), *self.sample_shape)

    def __len__(self) -> int:
        return len(self._array)

    def _take(self, indices: np.ndarray) -> np.ndarray:
        return self._array[indices]

    def __getitem__(self, key) -> np.ndarray:
        return self.array[key]

    def subset(self, indices) -> ArrayRows:
        """The rows ``indices``, copied (as NumPy's ``X[indices]``): an array in memory stays one."""
        return ArrayRows(self.array[self._checked(indices)], self.name)

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def on_demand(X) -> RowSource | None:
    """``X`` as rows read on demand when it is such data (a ``RowSource``, a torch ``Dataset``
    or a Hugging Face dataset); None for everything else (arrays, tables, tensors)."""
    import torch

    if isinstance(X, (RowSource, torch.utils.data.Dataset)) or is_hugging_face(X):
        return rows_of(X)
    return None


def as_rows(X) -> RowSource:
    """``X`` as rows: rows read on demand as they are, anything else as an array in memory."""
    rows = on_demand(X)
    if rows is not None:
        return rows
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    return ArrayRows(np.asarray(X))


def in_memory(X) -> np.ndarray:
    """Every row of ``X`` as one array (rows read on demand are read now: check memory first)."""
    return np.asarray(X[0:len(X)])
