"""Preprocessing stored in the model: one affine map x' = (x - shift) * scale.

Images, uint8 data and binary data are scaled to [0, 1] (uint8 by 255; other images by their global
min and max) so that a Bernoulli likelihood applies; other vectors (tables) are standardised
per feature on the training data. Being affine, the map is applied per batch inside training
and scoring, which lets the data stay in memory in the dtype it came in (uint8 images stay
uint8), and it inverts exactly for outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

METHODS = ("auto", "minmax", "standard", "none")


def is_binary(X: np.ndarray) -> bool:
    """True when the data take at most two values (e.g. binarised images): Bernoulli data."""
    lo, hi = X.min(), X.max()
    return bool(((X == lo) | (X == hi)).all())


@dataclass
class Scaler:
    method: str
    shift: np.ndarray  # broadcastable to one sample's shape
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, method: str, is_image: bool, binary: bool) -> Scaler:
        """Fit on training data ``X`` of shape ``(n, *sample_shape)``; ``binary`` is
        ``is_binary(X)``, passed in because the caller needs it too and it scans all of X."""
        if method not in METHODS:
            raise ValueError(f"scaler must be one of {METHODS}, got {method!r}")
        if method == "auto":  # 8-bit and binary data are intensities, flattened or not
            method = "minmax" if is_image or X.dtype == np.uint8 or binary else "standard"
        ones = np.ones((1,) * (X.ndim - 1), dtype=np.float32)
        if method == "none":
            return cls("none", 0 * ones, ones)
        if method == "minmax":
            if X.dtype == np.uint8:
                lo, hi = 0.0, 255.0
            elif is_image:  # one range for all pixels: per-pixel ranges would distort images
                lo, hi = float(X.min()), float(X.max())
            else:
                lo, hi = X.min(axis=0), X.max(axis=0)
            span = np.asarray(hi - lo, dtype=np.float64)
            return cls("minmax", (lo * ones).astype(np.float32),
                       (1.0 / np.where(span > 0, span, 1.0) * ones).astype(np.float32))
        # Standardise per feature for vectors, per channel for images.
        axes = (0, 2, 3) if is_image and X.ndim == 4 else (0,)
        keep = X.ndim == 4 and is_image
        mean = X.mean(axis=axes, dtype=np.float64, keepdims=keep)
        std = X.std(axis=axes, dtype=np.float64, keepdims=keep)
        if keep:
            mean, std = mean[0], std[0]
        return cls("standard", (mean * ones).astype(np.float32),
                   (1.0 / np.where(std > 0, std, 1.0) * ones).astype(np.float32))

    def _tensors(self, device: torch.device):
        """The statistics as tensors on ``device``, copied there once."""
        cache = self.__dict__.setdefault("_on_device", {})
        if device not in cache:
            cache[device] = (torch.from_numpy(self.shift).to(device), torch.from_numpy(self.scale).to(device))
        return cache[device]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        shift, scale = self._tensors(x.device)
        return (x.float() - shift) * scale

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        shift, scale = self._tensors(x.device)
        return x / scale + shift

    def to_dict(self) -> dict:
        return {"method": self.method, "shape": list(self.shift.shape),
                "shift": self.shift.ravel().tolist(), "scale": self.scale.ravel().tolist()}

    @classmethod
    def from_dict(cls, d: dict, sample_shape: tuple[int, ...]) -> Scaler:
        """Inverse of ``to_dict``; raises ValueError unless the statistics are finite numbers
        that broadcast to ``sample_shape``."""
        shape = tuple(d["shape"])
        if d["method"] not in METHODS[1:] or len(shape) > len(sample_shape) + 1:
            raise ValueError(f"preprocessing method {d['method']!r} or shape {shape} is not valid")
        shift, scale = (np.asarray(d[key], np.float64) for key in ("shift", "scale"))
        if shift.size != int(np.prod(shape)) or scale.size != shift.size \
                or not (np.isfinite(shift).all() and np.isfinite(scale).all()):
            raise ValueError("preprocessing statistics must be finite numbers, one per entry of their shape")
        shift, scale = shift.astype(np.float32).reshape(shape), scale.astype(np.float32).reshape(shape)
        if np.broadcast_shapes(shift.shape, sample_shape) != tuple(sample_shape):
            raise ValueError(f"preprocessing statistics of shape {shape} do not fit samples of shape "
                             f"{tuple(sample_shape)}")
        return cls(d["method"], shift, scale)
