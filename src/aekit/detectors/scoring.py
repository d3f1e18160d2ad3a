"""What a detector's score is, in one place: the model's part (reconstruction error, relative
error, -ELBO or -log p(x)), the neighbour distance, and how they are standardised and added.

:func:`model_scores` computes the model's part for a chunk of inputs (what
``AnomalyDetector`` scores with); :class:`ScoreGraph` is the same score as one torch module of
raw inputs (what ``export_onnx`` traces into ``score.onnx``), built from a fitted detector by
``AnomalyDetector.score_graph()``. Both add parts with :func:`combine`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedOperationError
from ..estimators.inference import scoring_noise

SCORES = ("auto", "reconstruction", "relative", "elbo", "log_likelihood")


def resolve(score: str, model) -> str:
    """The score "auto" (or a named one) means for ``model``, or why it cannot be used."""
    stochastic, is_image = model.is_variational, model.is_image_
    if score == "auto":
        return "relative" if is_image else "log_likelihood" if stochastic else "reconstruction"
    if score in ("elbo", "log_likelihood") and not stochastic:
        raise UnsupportedOperationError(f"score={score!r} needs a variational model (aekit.VAE)")
    if score == "relative" and not is_image:
        raise UnsupportedOperationError("score='relative' divides by an image's total variation: "
                                        "it needs image inputs (samples with height and width)")
    return score


def model_scores(model, kind: str, X: np.ndarray, detail_floor: float = 0.0, dims=None) -> np.ndarray:
    """The model's part of the score of inputs ``X`` (an array), higher = more anomalous.
    ``dims``: for the reconstruction error, a boolean mask in the input's shape of the
    dimensions it sums (None: all of them)."""
    if kind == "reconstruction":
        if dims is None:
            return model.reconstruction_error(X)
        errors = model.reconstruction_error(X, per_dim=True)
        return errors.reshape(len(X), -1)[:, np.asarray(dims).reshape(-1)].sum(1)
    if kind == "relative":
        error = np.abs(model.reconstruct(X) - X.astype(np.float32)).reshape(len(X), -1).sum(1)
        return error / np.maximum(total_variation(X), detail_floor)
    if kind == "elbo":
        return -model.elbo(X)
    return -model.score_samples(X)


def total_variation(X) -> np.ndarray:
    """Per image: the summed absolute differences between vertical and horizontal neighbours
    (over the last two axes, all channels), in the input's units."""
    X = np.asarray(X, dtype=np.float32)
    rows = np.abs(np.diff(X, axis=-2)).reshape(len(X), -1).sum(1)
    cols = np.abs(np.diff(X, axis=-1)).reshape(len(X), -1).sum(1)
    return rows + cols


def combine(parts: list, standardise: list[tuple[float, float]]):
    """One score from its parts (arrays or tensors): a single part as it is, several each
    standardised by the normal data's (mean, std) and added."""
    if len(parts) == 1:
        return parts[0]
    return sum((part - m) / s for part, (m, s) in zip(parts, standardise, strict=True))


class ScoreGraph(nn.Module):
    """A fitted detector's ``anomaly_score`` as a torch module of raw inputs ``x`` (and, for
    -log p(x), the codes' ``noise``, an input: never a random operation inside a graph), and
    its explanation's ``contributions`` (``AnomalyDetector.explain``), in ``x``'s shape."""

    def __init__(self, detector):
        super().__init__()
        estimator = detector.model_
        self.net, self.scaler, self.kind = estimator.model_, estimator.scaler_, detector.score_
        self.sample_shape = tuple(estimator.sample_shape_)
        if self.kind == "elbo":  # an average over 16 noise draws: not one graph input
            raise UnsupportedOperationError("score='elbo' is not exported to ONNX; use 'log_likelihood' or "
                                            "'reconstruction'")
        self.k = estimator.score_importance_samples if self.kind == "log_likelihood" else 0
        if self.k:  # the noise aekit's own scores use
            self.noise = scoring_noise(estimator, self.k)[0]
        self.floor = float(getattr(detector, "detail_floor_", 0.0))
        self.standardise = list(detector.standardise_)
        self.weights = [1 / sd for _, sd in self.standardise] if len(self.standardise) > 1 else [1.0]
        dims = getattr(detector, "scored_dims_", None)  # the dimensions a reconstruction score sums
        self.register_buffer("scored", None if dims is None else
                             torch.from_numpy(np.asarray(dims, np.float32).reshape(1, -1)))
        self.register_buffer("normal_contributions",
                             torch.from_numpy(np.asarray(detector.normal_contributions_, np.float32)))
        self.n_neighbors = detector.n_neighbors_
        if detector.neighbors_ is not None:
            self.register_buffer("reference", torch.from_numpy(np.asarray(detector.reference_, np.float32)))

    def forward(self, x, noise=None):
        raw = x.reshape(-1, *self.sample_shape)
        data = self.scaler.transform(raw)
        params = self.net.decode(self.net.encode(data, sample=False).mean)
        per_dim = (self._reconstruction(params, data) if self.kind != "relative"
                   else self._relative(params, raw)).flatten(1)
        if self.scored is not None:
            per_dim = per_dim * self.scored
        if self.kind == "log_likelihood":  # the importance-sampled bound with the given noise
            parts = [-self.net(data, k=self.k, eps=noise).bound]
        else:
            parts = [per_dim.sum(1)]
        contributions = per_dim * self.weights[0]
        if self.n_neighbors:
            distance, away = self._neighbor_distance(data.flatten(1))
            parts.append(distance)
            contributions = contributions + self.weights[1] * away.pow(2) / distance.clamp(min=1e-30)[:, None]
        contributions = contributions - self.normal_contributions.reshape(1, -1)
        return combine(parts, self.standardise), contributions.reshape(x.shape)

    def _reconstruction(self, params, data):
        return self.net.likelihood.nll_per_dim(params.unsqueeze(0), data)[0]

    def _relative(self, params, raw):
        rebuilt = self.scaler.inverse(self.net.likelihood.mean(params))
        # total_variation, with slices: ONNX has no diff
        detail = ((raw[..., 1:, :] - raw[..., :-1, :]).abs().flatten(1).sum(1)
                  + (raw[..., 1:] - raw[..., :-1]).abs().flatten(1).sum(1))
        return (rebuilt - raw).abs().flatten(1) / detail.clamp(min=self.floor)[:, None]

    def _neighbor_distance(self, rows):
        """The distance to the k-th nearest reference row, and the input's difference from it."""
        squared = (rows.pow(2).sum(1, keepdim=True) - 2 * rows @ self.reference.T
                   + self.reference.pow(2).sum(1)).clamp(min=0)
        values, index = torch.topk(squared, self.n_neighbors, dim=1, largest=False)
        return values[:, -1].sqrt(), rows - self.reference[index[:, -1]]
