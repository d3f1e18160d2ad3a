"""Data sources: one ``load(source)`` for the Python API and every CLI verb.

Sources so far: the built-in ``digits`` (scikit-learn's 8x8 digits, no network), NumPy
``.npy``/``.npz`` files (never unpickled) and IDX files (MNIST's format, raw or gzipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .idx import read_idx

BUILTINS = ("digits",)


@dataclass
class Dataset:
    X: np.ndarray  # (n, features) or (n, C, H, W)
    y: np.ndarray | None
    name: str


def load(source: str | Path) -> Dataset:
    """Load a built-in data set by name, or a file by path.

    Examples
    --------
    >>> from aekit.data import load
    >>> ds = load("digits")
    >>> ds.X.shape, ds.X.dtype, ds.y[:3].tolist()
    ((1797, 1, 8, 8), dtype('uint8'), [0, 1, 2])
    """
    name = str(source)
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        # Pixel counts 0..16 scaled to 0..255 so that they are ordinary 8-bit images.
        X = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]
        return Dataset(X, digits.target, "digits")
    path = Path(name)
    if not path.exists():
        raise InvalidInputError(f"no data at {name!r}: give a file path or one of {BUILTINS}")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix == ".npy":
        return Dataset(_read_npy(path), None, path.stem)
    if path.suffix == ".npz":
        return _read_npz(path)
    if "idx" in suffixes or "-ubyte" in path.name:
        return Dataset(read_idx(path), None, path.name.split(".")[0])
    raise InvalidInputError(f"{path}: unsupported format; use .npy, .npz or IDX files")


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if path.stat().st_size > 1 << 28 else None)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a readable .npy array ({exc})") from exc


def _read_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            x_key = "X" if "X" in keys else ("x" if "x" in keys else (keys[0] if keys else None))
            if x_key is None:
                raise InvalidInputError(f"{path}: the .npz file holds no arrays")
            y_key = next((k for k in ("y", "Y", "labels") if k in keys), None)
            return Dataset(npz[x_key], npz[y_key] if y_key else None, path.stem)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a readable .npz archive ({exc})") from exc
