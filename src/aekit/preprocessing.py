"""Preprocessing stored in the model: one affine map x' = (x - shift) * scale.

Images, uint8 data and binary data are scaled to [0, 1] (uint8 by 255; other images by their
global min and max) so that a Bernoulli likelihood applies; other vectors (tables) are
standardised per feature on the training data. Being affine, the map is applied per batch inside
training and scoring, which lets the data stay in memory in the dtype it came in (uint8 images
stay uint8), and it inverts exactly for outputs. The statistics come from one pass over the data
in chunks (:func:`summarize`), the same for data in memory and data read from disk.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from .data.stream import digest_chunk, digest_header, row_chunks

METHODS = ("auto", "minmax", "standard", "none")


@dataclass(frozen=True)
class Summary:
    """What preprocessing needs to know of the training data, from one pass over row chunks."""

    lo: float  # the smallest and largest value
    hi: float
    entry_lo: np.ndarray  # per entry of a sample
    entry_hi: np.ndarray
    mean: np.ndarray  # per channel (images) or per feature (vectors), float64
    std: np.ndarray
    binary: bool  # at most two distinct values: Bernoulli data
    sha256: str  # of the data's bytes, as ``data.stream.update_digest`` hashes them


def summarize(X) -> Summary:
    """One pass over ``X`` (an array or a ``DiskArray``, shape ``(n, *sample_shape)``) in the
    chunks of ``row_chunks``; means and variances are merged chunk by chunk (Chan et al.), so a
    streamed and an in-memory pass give the same numbers. The same pass hashes the data: a model
    records what it was trained on without reading it twice."""
    image = X.ndim == 4
    axes = (0, 2, 3) if image else (0,)
    squares = "ichw,ichw->c" if image else "i...,i...->..."  # sums of squares over `axes`
    count, mean, m2 = 0, 0.0, 0.0
    lo = hi = entry_lo = entry_hi = None
    values: set[float] = set()  # the distinct values while there are at most two
    binary = True
    h = hashlib.sha256()
    digest_header(h, X)
    for chunk in row_chunks(X):
        digest_chunk(h, chunk)
        c_lo, c_hi = chunk.min(axis=0), chunk.max(axis=0)
        entry_lo = c_lo if entry_lo is None else np.minimum(entry_lo, c_lo)
        entry_hi = c_hi if entry_hi is None else np.maximum(entry_hi, c_hi)
        if binary:
            low, high = c_lo.min(), c_hi.max()
            values |= {float(low), float(high)}
            binary = len(values) <= 2 and bool(((chunk == low) | (chunk == high)).all())
        wide = chunk.astype(np.float64)  # a copy: centred in place below
        n_b = wide.size // (wide.shape[1] if image else math.prod(wide.shape[1:]))
        mean_b = wide.mean(axis=axes, keepdims=True)
        wide -= mean_b
        m2_b = np.einsum(squares, wide, wide).reshape(mean_b.shape)  # no squared temporary
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    lo, hi = entry_lo.min(), entry_hi.max()
    std = np.sqrt(m2 / count)
    return Summary(float(lo), float(hi), entry_lo, entry_hi, mean[0], std[0], binary, h.hexdigest())


@dataclass
class Scaler:
    method: str
    shift: np.ndarray  # broadcastable to one sample's shape
    scale: np.ndarray

    @classmethod
    def fit(cls, summary: Summary, dtype: np.dtype, method: str, is_image: bool) -> Scaler:
        """Fit on the ``summarize``-d training data of ``dtype``."""
        if method not in METHODS:
            raise ValueError(f"scaler must be one of {METHODS}, got {method!r}")
        if method == "auto":  # 8-bit and binary data are intensities, flattened or not
            method = "minmax" if is_image or dtype == np.uint8 or summary.binary else "standard"
        ones = np.ones((1,) * summary.entry_lo.ndim, dtype=np.float32)
        if method == "none":
            return cls("none", 0 * ones, ones)
        if method == "minmax":
            if dtype == np.uint8:
                lo, hi = 0.0, 255.0
            elif is_image:  # one range for all pixels: per-pixel ranges would distort images
                lo, hi = summary.lo, summary.hi
            else:
                lo, hi = summary.entry_lo, summary.entry_hi
            span = np.asarray(hi - lo, dtype=np.float64)
            return cls("minmax", (lo * ones).astype(np.float32),
                       (1.0 / np.where(span > 0, span, 1.0) * ones).astype(np.float32))
        # Standardise per feature for vectors, per channel for images.
        return cls("standard", (summary.mean * ones).astype(np.float32),
                   (1.0 / np.where(summary.std > 0, summary.std, 1.0) * ones).astype(np.float32))

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
