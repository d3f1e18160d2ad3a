"""Why an input scored high: its anomaly score split over its input dimensions.

Every part of a detector's score is split exactly where it can be:

* the reconstruction error is a sum over dimensions already (-log p(x_d | z) per dimension;
  for images scored "relative", each pixel's absolute error over the image's total variation);
* the distance to the k-th nearest normal row ``r`` is ``sqrt(sum_d (x_d - r_d)^2)``, so
  dimension ``d`` carries ``(x_d - r_d)^2 / distance`` of it (the shares add up to the distance,
  in the preprocessed units the distance is measured in);
* what no input dimension carries goes to ``rest``: for -log p(x) and the ELBO, what remains
  after the reconstruction error at the code's mean (the code's own unlikeliness), and the
  code density's part.

Parts are weighted as the score weighs them (each divided by its standardisation), and each
dimension's contribution is measured against the same dimension's mean on the held-out normal
rows: a column the model always rebuilds loosely does not dominate every explanation. So, for
every input, ``contributions.sum() + rest == score - baseline``, ``baseline`` being the held-out
normal rows' mean score: the contributions say where an input's excess over a typical normal
score comes from.

Which *column* of a table to blame is asked differently: how much lower the whole score would
be if that column alone took its normal value (the held-out normal rows' mean), every other
column kept (``drops``; occlusion, one scoring per column). An additive split spreads one odd
value over many columns: the code moves to accommodate it, so the other columns are rebuilt
worse, and the nearest normal rows are found by all columns at once. On 24 ADBench tables with
one column of each row pushed 4 standard deviations, the top contributor named it in 87% of
rows by the additive split, 96% by the drops, and 93% by the naive rule (the value furthest
from its column's mean in standard deviations; benchmarks/explanations.py). A row that no
column alone makes less anomalous (off a little in many columns at once) is ranked by its
additive parts. A window's channel has no single normal value (its mean window is flat, itself
unusual): it is replaced by the model's reconstruction of it, what the model expects there (in
windows of three NAB series with a spike injected into one channel: 92% named by these drops,
89% by the additive parts). An image's pixels are grouped into square regions, a seventh of
the image's side (4 x 4 pixels of a 28 x 28 image), and the regions ranked by the sums of their
pixels' additive parts: a region is what one looks at, and a single pixel's part is noisy (in
Fashion-MNIST images with a 4 x 4 patch inverted, the region named first overlapped the patch in
94% of images, the brightest pixel lay in it in 88%; benchmarks/explanations.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.stream import chunk_rows, row_chunks
from ..errors import InvalidInputError
from .scoring import model_scores, total_variation


@dataclass(frozen=True)
class Explanation:
    """Each input's score split over its dimensions (see the module's docstring).

    ``contributions`` has the inputs' shape, except for windows: ``(n, channels, time)``
    whether the model reads them flat or as sequences. ``names`` are what :meth:`per_name`
    and :meth:`top` name: the columns of a table, the channels of windows, or None for images
    (their regions of ``region`` x ``region`` pixels are named by position: "rows 8-11,
    columns 12-15"). ``drops``: ``(n, len(names))``, how much lower each input's score is with
    that column at its normal value (that channel as the model reconstructs it); None for images.
    """

    scores: np.ndarray  # (n,) the detector's anomaly scores
    baseline: float  # the mean score of the held-out normal rows
    contributions: np.ndarray  # (n, ...) per input dimension, above that dimension's normal mean
    rest: np.ndarray  # (n,) the part of the score no input dimension carries
    names: tuple[str, ...] | None
    kind: str  # "columns", "channels" or "pixels"
    drops: np.ndarray | None = None
    region: int = 1  # images: the side of the square regions their pixels are grouped into

    def per_name(self) -> np.ndarray:
        """``(n, len(names))``: a table's columns, or the channels of windows summed over time;
        for images the sums over regions of pixels (channels together), row by row."""
        if self.kind == "channels":
            return self.contributions.sum(axis=2)
        if self.kind == "pixels":
            return _region_sums(self.contributions, self.region)
        return self.contributions.reshape(len(self.contributions), -1)

    def per_time(self) -> np.ndarray:
        """``(n, time)``: the contributions of windows summed over channels, oldest step first."""
        if self.kind != "channels":
            raise ValueError("per_time is for windows of a series")
        return self.contributions.sum(axis=1)

    def blame(self) -> np.ndarray:
        """``(n, len(names))``: what :meth:`top` ranks: :attr:`drops`, or :meth:`per_name` for
        images and for the inputs that no column (channel) alone makes less anomalous (every
        drop <= 0: off in many at once)."""
        if self.drops is None:
            return self.per_name()
        spread = (self.drops <= 0).all(axis=1, keepdims=True)
        return np.where(spread, self.per_name(), self.drops)

    def shares(self) -> np.ndarray:
        """:meth:`blame`'s positive parts as shares of their sum (zero where none is positive):
        how much of the excess over a normal score each name accounts for."""
        positive = np.clip(self.blame(), 0, None)
        total = positive.sum(axis=1, keepdims=True)
        return np.divide(positive, total, out=np.zeros_like(positive), where=total > 0)

    def top(self, k: int = 3) -> list[list[tuple[str, float]]]:
        """Per input, its ``k`` largest contributors and their shares (those with none left out)."""
        shares = self.shares()
        order = np.argsort(-shares, axis=1, kind="stable")[:, :k]
        return [[(self.name(j), float(row[j])) for j in order_row if row[j] > 0]
                for row, order_row in zip(shares, order, strict=True)]

    def name(self, index: int) -> str:
        """What :meth:`per_name`'s column ``index`` is called."""
        if self.names is not None:
            return self.names[index]
        height, width = self.contributions.shape[-2:]
        row, column = divmod(index, -(-width // self.region))
        top, left = row * self.region, column * self.region
        return (f"rows {top}-{min(height, top + self.region) - 1}, "
                f"columns {left}-{min(width, left + self.region) - 1}")

    def describe(self, k: int = 3) -> list[str]:
        """Per input, its top contributors as text: ``"pressure 71%; flow 20%"``; for windows
        also the time step where each channel contributes most, counted back from the window's
        last row: ``"pressure 71% (t-3)"``."""
        texts = []
        for i, row in enumerate(self.top(k)):
            parts = []
            for name, share in row:
                text = f"{name} {share:.0%}"
                if self.kind == "channels":
                    steps = self.contributions[i, self.names.index(name)]
                    text += f" (t-{len(steps) - 1 - int(steps.argmax())})"
                parts.append(text)
            texts.append("; ".join(parts))
        return texts


def region_side(height: int, width: int) -> int:
    """The side of the square regions an image's explanation names: a seventh of its shorter
    side (4 pixels of 28), at least one pixel."""
    return max(1, round(min(height, width) / 7))


def _region_sums(contributions: np.ndarray, side: int) -> np.ndarray:
    """``(n, regions)``: per image, its contributions summed over channels and over each
    ``side`` x ``side`` region (the last row and column of regions may be narrower)."""
    maps = contributions.reshape(len(contributions), -1, *contributions.shape[-2:]).sum(axis=1)
    n, height, width = maps.shape
    rows, columns = -(-height // side), -(-width // side)
    padded = np.zeros((n, rows * side, columns * side), dtype=maps.dtype)
    padded[:, :height, :width] = maps
    return padded.reshape(n, rows, side, columns, side).sum(axis=(2, 4)).reshape(n, -1)


def dimension_parts(detector, X: np.ndarray, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """The score's parts split over the input dimensions of ``X`` (a chunk), weighted as the
    score weighs them: ``(per_dimension (n, *input_shape), rest (n,))``, not yet measured
    against the normal rows' means. ``rows``: as ``AnomalyDetector._raw_scores``."""
    model = detector.model_
    weights = [1 / s for _, s in detector.standardise_] if len(detector.standardise_) > 1 else [1.0]
    per_dim = _model_part(detector, X)
    model_total = model_scores(model, detector.score_, X, getattr(detector, "detail_floor_", 0.0),
                               getattr(detector, "scored_dims_", None))
    rest = (model_total - per_dim.reshape(len(X), -1).sum(1)) * weights[0]
    per_dim = per_dim * weights[0]
    part = 1
    if detector.neighbors_ is not None:
        distance, nearest = detector.neighbor_distance(X, rows, return_nearest=True)
        away = detector.preprocessed(X) - detector.reference_[nearest]
        share = np.divide(away ** 2, distance[:, None], out=np.zeros_like(away), where=distance[:, None] > 0)
        per_dim = per_dim + weights[part] * share.reshape(per_dim.shape)
        part += 1
    if detector.density_ is not None:
        codes = model.transform(X).astype(np.float64)
        rest = rest - weights[part] * detector.density_.score_samples(codes)
    return per_dim, rest


def _model_part(detector, X: np.ndarray) -> np.ndarray:
    """The model's part per input dimension (in the input's shape), summing to its score where
    the score is a sum over dimensions."""
    model = detector.model_
    if detector.score_ == "relative":
        error = np.abs(model.reconstruct(X) - X.astype(np.float32)).astype(np.float64)
        detail = np.maximum(total_variation(X), detector.detail_floor_)
        return error / detail.reshape(-1, *([1] * (error.ndim - 1)))
    # -log p(x | z = the code's mean): the whole reconstruction score (over the dimensions it
    # sums), and the part of -log p(x) and of the ELBO that input dimensions carry.
    per_dim = model.reconstruction_error(X, per_dim=True)
    dims = getattr(detector, "scored_dims_", None)
    return per_dim if dims is None else per_dim * dims


def normal_means(detector, X_val, val_rows) -> tuple[np.ndarray, float, np.ndarray]:
    """The held-out normal rows' mean :func:`dimension_parts` (what an explanation measures
    each dimension against) and their mean values (what a column is set to for its drop)."""
    step = chunk_rows(int(np.prod(X_val.shape[1:])))
    total, rest, values, n = 0.0, 0.0, 0.0, 0
    for i, chunk in enumerate(row_chunks(X_val)):
        per_dim, chunk_rest = dimension_parts(detector, chunk, val_rows[i * step:(i + 1) * step])
        total = total + per_dim.sum(axis=0)
        rest += float(chunk_rest.sum())
        values = values + chunk.astype(np.float64).sum(axis=0)
        n += len(chunk)
    return total / n, rest / n, values / n


def score_drops(detector, X: np.ndarray, channels: int | None = None) -> np.ndarray:
    """``(n, columns)``: how much lower each row's score is with that column alone at the normal
    rows' mean value; or, with ``channels``, ``(n, channels)``: each window's score with that
    channel alone replaced by the model's reconstruction of it."""
    scores = detector.anomaly_score(X)
    X = np.asarray(X, dtype=np.float32)
    if channels is None:
        replacement = np.broadcast_to(np.asarray(detector.normal_values_, np.float32), X.shape)
        grouped, replacement = X[:, :, None], replacement[:, :, None]
    else:
        grouped = X.reshape(len(X), channels, -1)
        replacement = detector.model_.reconstruct(X).reshape(grouped.shape)
    drops = np.empty((len(X), grouped.shape[1]))
    for group in range(grouped.shape[1]):
        occluded = grouped.copy()
        occluded[:, group] = replacement[:, group]
        drops[:, group] = scores - detector.anomaly_score(occluded.reshape(X.shape))
    return drops


def explain(detector, X, channels: int | None = None, names=None) -> Explanation:
    """:class:`Explanation` of ``X`` (rows as the detector scores them) by a fitted detector.

    ``channels``: the value columns of flat windows (a model trained on ``window * channels``
    values, channel after channel), to group them by channel; ``names``: the columns' or the
    channels' names (default: the feature names the detector or its model was fitted with, else
    ``x0, x1, ...`` or ``c0, ...``).
    """
    model = detector.model_
    X = np.asarray(X[0:len(X)])
    parts = [dimension_parts(detector, chunk) for chunk in row_chunks(X)]
    per_dim = np.concatenate([p for p, _ in parts]) - detector.normal_contributions_
    rest = np.concatenate([r for _, r in parts]) - detector.normal_rest_
    baseline = float(np.mean(detector.validation_scores_))
    scores = baseline + per_dim.reshape(len(per_dim), -1).sum(1) + rest
    shape = tuple(model.input_shape_)
    n_channels = None
    if channels is not None or (len(shape) == 2 and not model.is_image_):
        n_channels = channels or shape[0]
        if channels is not None and (len(shape) != 1 or channels < 1 or shape[0] % channels):
            raise InvalidInputError(f"channels={channels!r} does not divide the model's flat samples of "
                                    f"shape {shape} into windows of several value columns")
        per_dim = per_dim.reshape(len(per_dim), n_channels, -1)
        kind, default = "channels", [f"c{i}" for i in range(n_channels)]
    elif len(shape) == 1:
        kind = "columns"
        default = getattr(detector, "feature_names_in_", getattr(model, "feature_names_in_", None))
        default = [str(n) for n in default] if default is not None else [f"x{i}" for i in range(shape[0])]
    else:
        kind, default = "pixels", None
    names = default if names is None else [str(n) for n in names]
    if names is not None and len(names) != per_dim.shape[1]:
        raise InvalidInputError(f"{len(names)} names for {per_dim.shape[1]} {kind}")
    drops = None if kind == "pixels" else score_drops(detector, X, n_channels)
    region = region_side(*shape[-2:]) if kind == "pixels" else 1
    return Explanation(scores, baseline, per_dim, rest, None if names is None else tuple(names), kind, drops,
                       region)
