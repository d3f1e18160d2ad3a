"""Density and uncertainty: how probable each input is, and how typical its code is.

``log p(x)`` comes from the model's importance-sampled bound (``log_likelihood``). It is a
density of the *preprocessed* data; ``bits_per_dim`` converts it where that is meaningful:
binary data (a Bernoulli model: a probability already) and 8-bit data scaled by 1/255 (the
continuous density times the unit bin width approximates each grey level's probability).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import KMeans

from ..errors import InvalidInputError


def bits_per_dim(model, log_px: np.ndarray) -> np.ndarray | None:
    """-log2 p(x) per data dimension in the data's own units, or None where it has no meaning."""
    dims = math.prod(model.input_shape_)
    likelihood = model.likelihood_
    scaler = model.scaler_
    if likelihood == "bernoulli":
        return -log_px / (dims * math.log(2))
    if scaler.method == "minmax" and np.allclose(scaler.scale, 1 / 255) and np.allclose(scaler.shift, 0):
        # density of x/255 -> density of x: divide by 255 per dimension
        return (-log_px + dims * math.log(255)) / (dims * math.log(2))
    return None


def code_uncertainty(model, X, y=None, n_clusters: int = 10, random_state: int = 0):
    """How far each code lies from its group's centre, in units of that group's spread.

    The group is the input's class when labels are given, else its nearest k-means cluster of
    the codes. Returns (uncertainty, group of each input). Large values: the model places the
    input away from where its kind usually lies.
    """
    codes = model.transform(X).astype(np.float64)
    if y is not None:
        groups = np.unique(np.asarray(y), return_inverse=True)[1]
    else:
        if len(codes) < 2:
            raise InvalidInputError("uncertainty without labels needs at least two inputs to cluster")
        groups = KMeans(min(n_clusters, len(codes)), n_init=10, random_state=random_state).fit_predict(codes)
    uncertainty = np.empty(len(codes))
    for g in np.unique(groups):
        members = groups == g
        centre = codes[members].mean(axis=0)
        distance = np.linalg.norm(codes[members] - centre, axis=1)
        spread = np.sqrt(np.mean(distance**2)) or 1.0
        uncertainty[members] = distance / spread
    return uncertainty, groups
