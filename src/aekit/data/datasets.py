"""Data a user already has in a library's form, as rows aekit reads a batch at a time.

- a map-style ``torch.utils.data.Dataset`` (``len`` and ``dataset[i]``): :class:`DatasetRows`
  reads the items of each batch when it is drawn (in worker processes with ``workers``);
- a ``torch.utils.data.IterableDataset``: it can only be walked in its own order, and aekit
  shuffles, so :func:`spool` walks it once, writing its samples to a file in aekit's cache
  (``aekit.data.converted``) that is then read like a ``.npy``, and deleted when no longer used;
- a Hugging Face ``datasets.Dataset`` (in memory or ``save_to_disk``'d, Arrow files mapped
  from disk): :class:`HuggingFaceRows` reads one column's rows per batch.

Items are a sample (a tensor or an array) or a ``(sample, label)`` pair; samples must all have
one shape and be uint8 or floating point (read as float32).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .converted import cache_dir
from .stream import DiskArray, RowSource, npy_file

IMAGE_COLUMNS = ("image", "img", "pixel_values", "x", "X", "features")
LABEL_COLUMNS = ("label", "labels", "y")


def rows_of(dataset, name: str | None = None) -> RowSource:
    """Rows of any dataset form aekit takes (see the module's text); a RowSource as it is."""
    if isinstance(dataset, RowSource):
        return dataset
    if is_hugging_face(dataset):
        return HuggingFaceRows(dataset)
    if _is_iterable_dataset(dataset):
        return spool(dataset, name)
    return DatasetRows(dataset, name)


def is_hugging_face(data) -> bool:
    return type(data).__module__.split(".")[0] == "datasets" and hasattr(data, "column_names")


def _is_iterable_dataset(dataset) -> bool:
    import torch

    return isinstance(dataset, torch.utils.data.IterableDataset)


def _sample_of(item, where: str) -> np.ndarray:
    if isinstance(item, (tuple, list)):
        item = item[0]
    if hasattr(item, "detach"):  # a torch tensor
        item = item.detach().cpu().numpy()
    array = np.asarray(item)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise InvalidInputError(f"{where} is of type {array.dtype}: samples must be uint8 or floating point")
    return array


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
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise InvalidInputError("a map-style dataset needs len(dataset) and dataset[i]")
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
        return _sample_of(self.dataset[int(i)], f"{self.name}[{i}]")

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
        """Every item's label: a TensorDataset's label tensor, a dataset's ``targets`` (the
        torchvision convention), else one pass over the items."""
        if not self.has_labels:
            raise InvalidInputError(f"{self.name} yields samples without labels")
        tensors = getattr(self.dataset, "tensors", None)  # torch.utils.data.TensorDataset
        known = tensors[1] if isinstance(tensors, tuple) and len(tensors) >= 2 else \
            getattr(self.dataset, "targets", None)
        if known is not None and len(known) == len(self.dataset):
            return np.asarray(known.cpu() if hasattr(known, "cpu") else known)
        labels = []
        for i in range(len(self.dataset)):
            label = self.dataset[i][1]
            labels.append(label.item() if hasattr(label, "item") else label)
        return np.asarray(labels)


class SpooledRows(DiskArray):
    """An IterableDataset's samples, written once to a file read like a ``.npy`` (``spool``)."""

    def __init__(self, files, name: str, labels: np.ndarray | None):
        super().__init__(files, name)
        self._labels = labels
        self.has_labels = labels is not None

    def labels(self) -> np.ndarray:
        if self._labels is None:
            raise InvalidInputError(f"{self.name} yields samples without labels")
        return self._labels


def spool(dataset, name: str | None = None) -> SpooledRows:
    """Walk an IterableDataset once, its samples into a file in the cache (deleted with the rows)."""
    name = name or type(dataset).__name__
    folder = cache_dir() / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=folder))
    try:
        shape = dtype = None
        n, labels = 0, []
        with open(folder / "X.bin", "wb") as out:
            for item in dataset:
                sample = _sample_of(item, f"item {n} of {name}")
                if shape is None:
                    shape = sample.shape
                    dtype = np.dtype(np.uint8) if sample.dtype == np.uint8 else np.dtype(np.float32)
                elif sample.shape != shape:
                    raise InvalidInputError(f"item {n} of {name} has shape {sample.shape}, but item 0 has "
                                            f"{shape}: every sample must have one shape")
                out.write(np.ascontiguousarray(sample, dtype=dtype).tobytes())
                if isinstance(item, (tuple, list)) and len(item) >= 2:
                    label = item[1]
                    labels.append(label.item() if hasattr(label, "item") else label)
                n += 1
        if n == 0:
            raise InvalidInputError(f"{name} yielded no items")
        if labels and len(labels) != n:
            raise InvalidInputError(f"{name}: some items are (sample, label) pairs and some are not")
        file = npy_file(folder / "X.bin", 0, (n, *shape), dtype)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(file, shutil.rmtree, folder, True)  # the file goes when no rows read it
    return SpooledRows([file], name, np.asarray(labels) if labels else None)


class HuggingFaceRows(RowSource):
    """One column of a Hugging Face ``datasets.Dataset`` as rows (images as (C, H, W)); labels
    from ``label_column`` (default: a column named label, labels or y, if there is one)."""

    def __init__(self, dataset, column: str | None = None, label_column: str | None = None):
        columns = list(dataset.column_names)
        column = column or next((c for c in IMAGE_COLUMNS if c in columns), None)
        if column is None:
            others = [c for c in columns if c not in LABEL_COLUMNS]
            column = others[0] if len(others) == 1 else None
        if column not in columns:
            raise InvalidInputError(f"the dataset has columns {columns[:20]}; name the column of samples "
                                    "(array=NAME, --array NAME)")
        if label_column is not None and label_column not in columns:
            raise InvalidInputError(f"the dataset has no column {label_column!r}; its columns are "
                                    f"{columns[:20]}")
        self.label_column = label_column or next((c for c in LABEL_COLUMNS if c in columns), None)
        self.has_labels = self.label_column is not None
        self.dataset, self.column = dataset.with_format("numpy"), column
        self.name = getattr(dataset.info, "dataset_name", None) or column
        self.is_image = type(dataset.features[column]).__name__ == "Image"
        first = self._rows([0])
        self.dtype = np.dtype(np.uint8) if first.dtype == np.uint8 else np.dtype(np.float32)
        self.native_shape = self.sample_shape = first.shape[1:]

    def __len__(self) -> int:
        return len(self.dataset)

    def _rows(self, indices) -> np.ndarray:
        values = self.dataset[list(indices)][self.column]
        try:
            array = np.stack([np.asarray(v) for v in values]) if isinstance(values, list) else \
                np.asarray(values)
        except ValueError as exc:
            raise InvalidInputError(f"{self.name}: the samples of column {self.column!r} differ in shape "
                                    f"({exc}); resize them to one shape first") from exc
        if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.number):
            raise InvalidInputError(f"{self.name}: column {self.column!r} holds {array.dtype}, not numbers")
        if self.is_image:  # (n, H, W) or (n, H, W, C) -> (n, C, H, W)
            array = array[:, None] if array.ndim == 3 else array.transpose(0, 3, 1, 2)
        return array

    def _take(self, indices: np.ndarray) -> np.ndarray:
        rows = self._rows(indices.tolist())
        if rows.shape[1:] != self.native_shape:
            raise InvalidInputError(f"{self.name}: rows of column {self.column!r} have shape "
                                    f"{rows.shape[1:]}, the first {self.native_shape}: every sample must "
                                    "have one shape")
        return np.ascontiguousarray(rows, dtype=self.dtype)

    def labels(self) -> np.ndarray:
        if not self.has_labels:
            raise InvalidInputError(f"{self.name} has no label column")
        return np.asarray(self.dataset[self.label_column])


def load_hugging_face(path: Path, split: str = "train", column: str | None = None,
                      label_column: str | None = None) -> HuggingFaceRows:
    """A dataset written by ``datasets.Dataset.save_to_disk`` (or a DatasetDict's ``split``)."""
    try:
        import datasets
    except ImportError as exc:
        raise InvalidInputError(f"{path} is a Hugging Face dataset: reading it needs the datasets "
                                "library (pip install 'aekit[huggingface]')") from exc
    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise InvalidInputError(f"{path}: not a readable Hugging Face dataset ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise InvalidInputError(f"{path} has the splits {list(loaded)}, not {split!r} (--split)")
        loaded = loaded[split]
    rows = HuggingFaceRows(loaded, column, label_column)
    rows.name = path.name
    return rows


def is_hugging_face_folder(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in ("dataset_info.json", "dataset_dict.json"))
