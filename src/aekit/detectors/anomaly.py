"""Anomaly detection: train on normal data only; what the model explains badly is suspicious.

:class:`AnomalyDetector` follows scikit-learn's outlier detectors: ``score_samples`` is higher
for more normal inputs, ``decision_function`` is negative for outliers, ``predict`` returns +1
(inlier) or -1 (outlier). ``anomaly_score`` is the opposite of ``score_samples``.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _params as P
from ..data.in_memory import as_rows
from ..data.stream import chunk_rows, row_chunks, select_rows, update_digest
from ..errors import InvalidInputError, UnsupportedOperationError
from ..estimators import VAE, BaseAutoEncoder
from ..estimators.validation import validate_samples
from ..training import held_out_rows
from . import explanation, scoring
from .calibration import Calibration
from .explanation import Explanation
from .scoring import SCORES, ScoreGraph, combine, model_scores, total_variation

# The neighbour distance compares an input with at most this many normal rows (a random sample
# of them): enough for a stable k-th distance, and a bounded memory and query cost on big data.
MAX_REFERENCE_ROWS = 20_000


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """Flag inputs that a model trained on normal data explains badly.

    Parameters
    ----------
    model : aekit estimator, default=None
        The autoencoder to train on normal data; when None, ``VAE(network="mlp")``. An MLP, even
        for images: on one-class Fashion-MNIST it scored a mean AUROC of 94.6 against the
        convolutional VAE's 94.3, in 55 s instead of 719 s for all ten classes
        (benchmarks/oneclass.py).
    score : {"auto", "reconstruction", "relative", "elbo", "log_likelihood"}, default="auto"
        What "explained badly" means: the reconstruction's negative log-likelihood under the
        model's likelihood; for images, "relative": the absolute reconstruction error divided by
        the image's total variation (the summed absolute differences of neighbouring pixels),
        i.e. the share of the image's own detail the model fails to rebuild; the negative ELBO;
        or the importance-sampled -log p(x). "auto" is "relative" for images, -log p(x) for
        variational models of vectors and the reconstruction error otherwise. Raw errors rank
        detailed normal images (prints, textures) above plain anomalies; dividing by the
        detail corrects that (one-class Fashion-MNIST, the default MLP VAE: mean AUROC 90.8 by
        -log p(x), 94.6 by "relative"; benchmarks/oneclass.py).
    n_neighbors : int, None or "auto", default="auto"
        Also score each input's distance to its ``n_neighbors``-th nearest normal row (in the
        model's preprocessed units: standardised features for tables), compared with at most
        ``MAX_REFERENCE_ROWS`` of them. The model's score says how far an input lies from the
        learned manifold; the distance says how crowded its neighbourhood of normal data is,
        which the model's error misses for anomalies that lie on the manifold. "auto": 5 for
        vector samples (table rows, flat windows), None for images and (channels, time)
        windows. On 24 ADBench tables (3 seeds, benchmarks/tabular_scores.py) the default VAE's
        -log p(x) alone scored a mean AUROC of 0.912, the distance alone 0.919, their sum 0.920.
    code_density : bool, default=False
        Also score how unusual the code is: -log density of a Gaussian mixture fitted to the
        normal codes. Every score in use is standardised on validation data, and they are added.
    contamination : float, default=0.01
        The false-alarm rate accepted: the share of normal inputs allowed above the threshold.
        The threshold is set on the scores of held-out normal inputs the model did not train on
        (``aekit.detectors.Calibration``): their conformal quantile where they resolve the rate,
        else the quantile of a tail fitted to their highest scores.
    validation_fraction : float, default=0.2
        Normal inputs held out from training to set the threshold and standardise scores.
    random_state : int or None, default=None
    device : str, default="auto"
        Where the model trains and scores (set on the model): "auto", "cpu", "cuda[:N]" or "mps".

    Attributes
    ----------
    threshold_ : float
        Scores above it are flagged.
    validation_scores_ : ndarray
        The held-out normal inputs' scores the threshold was set from.
    calibration_ : Calibration
        Those scores and the tail fitted to their highest: ``p_value`` and ``surprise``.
    calibrated_on_ : str
        Which normal rows set the threshold, in words.
    normal_contributions_ : ndarray
        Each input dimension's mean share of the held-out normal inputs' scores: what
        :meth:`explain` measures contributions against.
    scored_dims_ : ndarray of bool or None
        The input dimensions the reconstruction error sums (``from_fitted(scored_dims=...)``;
        a stream's newest rows), None for all.

    Examples
    --------
    >>> import numpy as np, aekit
    >>> rng = np.random.default_rng(0)
    >>> normal = rng.normal(size=(400, 2)) @ rng.normal(size=(2, 8))
    >>> odd = rng.normal(size=(10, 8)) * 3
    >>> det = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=2, epochs=40, verbose=0),
    ...                             random_state=0).fit(normal)
    >>> bool(det.predict(odd).mean() < 0)  # mostly flagged (-1)
    True
    """

    def __init__(self, model=None, *, score="auto", n_neighbors="auto", code_density=False,
                 contamination=0.01, validation_fraction=0.2, random_state=None, device="auto"):
        self.model = model
        self.score = score
        self.n_neighbors = n_neighbors
        self.code_density = code_density
        self.contamination = contamination
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        """Train the model on normal ``X`` and set the threshold on a held-out part of it."""
        columns = getattr(X, "columns", None)  # a DataFrame's: what explanations name
        if columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        X = as_rows(X)
        self._check_params()
        order = check_random_state(self.random_state).permutation(len(X))
        n_val = max(1, int(len(X) * self.validation_fraction))
        if len(X) - n_val < 2:
            raise InvalidInputError(f"{len(X)} normal samples are too few to train and to set a threshold")
        model = clone(self.model) if self.model is not None else VAE(network="mlp", verbose=0)
        model.set_params(device=self.device)
        if self.random_state is not None and "random_state" in model.get_params():
            model.set_params(random_state=self.random_state)
        model.fit(select_rows(X, order[n_val:]))
        self.scored_dims_ = None  # every input dimension counts (from_fitted can choose some)
        self.calibrated_on_ = f"{n_val} normal rows held out from training (validation_fraction)"
        return self._calibrate(model, X, train_rows=order[n_val:], val_rows=order[:n_val])

    @classmethod
    def from_fitted(cls, model, X_normal, *, calibration_rows=None, scored_dims=None,
                    **params) -> AnomalyDetector:
        """Wrap an already trained model; ``X_normal`` is the normal data that neighbour
        distances (and the code density) refer to, and sets the threshold. A threshold set on
        rows the model was trained on would be too low (a model explains its training rows
        better than anything new), so when ``X_normal`` is the model's own training data only
        the rows its fit held out set it; ``calibrated_on_`` says which rows did.
        ``calibration_rows``: the indices of the rows that set it instead. ``scored_dims``: a
        boolean mask in the model's input shape, the dimensions the reconstruction error sums
        (a stream scores the newest rows of each window; ``scored_dims_``), None for all."""
        detector = cls(model=model, **params)
        model.set_params(device=detector.device)
        if scored_dims is not None:
            scored_dims = np.asarray(scored_dims, dtype=bool)
            if scored_dims.shape != tuple(model.input_shape_) or not scored_dims.any():
                raise InvalidInputError(f"scored_dims must be a boolean mask of the model's input shape "
                                        f"{tuple(model.input_shape_)} with at least one True, got shape "
                                        f"{scored_dims.shape}")
            if scoring.resolve(detector.score, model) != "reconstruction":
                raise UnsupportedOperationError("scored_dims needs score='reconstruction' (a sum over "
                                                "input dimensions)")
        detector.scored_dims_ = scored_dims
        # The rows as the model's fit saw them (dtype, columns): what its record of its training
        # data is compared with, and what is scored.
        X_normal = validate_samples(model, X_normal, reset=False)
        if calibration_rows is None:
            val_rows, detector.calibrated_on_ = unseen_rows(model, X_normal)
        else:
            val_rows = np.asarray(calibration_rows)
            detector.calibrated_on_ = f"{len(val_rows)} normal rows chosen by the caller"
        return detector._calibrate(model, X_normal, train_rows=np.arange(len(X_normal)), val_rows=val_rows)

    def _calibrate(self, model, normal, train_rows, val_rows):
        """Fit what scoring needs on the ``normal`` rows: the code density on ``train_rows``,
        the neighbour reference on all of them, the standardisation and the threshold on
        ``val_rows``."""
        self._check_params()
        rows = lambda r: normal if np.array_equal(r, np.arange(len(normal))) else select_rows(normal, r)
        X_train, X_val = rows(train_rows), rows(val_rows)
        self.model_ = model
        self.score_ = scoring.resolve(self.score, model)
        self.n_neighbors_ = self._resolve_neighbors(model, len(normal))
        self.neighbors_ = None
        if self.n_neighbors_:
            self.neighbors_ = self._fit_neighbors(normal)
        if self.score_ == "relative":
            # The floor keeps blank images (no detail at all) from dividing by zero.
            detail = np.concatenate([total_variation(chunk) for chunk in row_chunks(X_val)])
            self.detail_floor_ = max(0.01 * float(np.median(detail)), 1e-12)
        self.density_ = None
        if self.code_density:
            codes = model.transform(X_train).astype(np.float64)
            self.density_ = GaussianMixture(min(10, len(codes)), reg_covar=1e-4,
                                            random_state=0).fit(codes)
        raw = self._raw_scores(X_val, val_rows)
        self.standardise_ = [(r.mean(), r.std() or 1.0) for r in raw]
        val = self._combine(raw)
        self.validation_scores_ = val
        self.normal_contributions_, self.normal_rest_, self.normal_values_ = \
            explanation.normal_means(self, X_val, val_rows)
        self.calibration_ = Calibration.fit(val)
        self.threshold_ = self.calibration_.threshold(self.contamination)
        self.offset_ = -self.threshold_  # scikit-learn: decision_function = score_samples - offset_
        return self

    _parameter_constraints = {
        "model": [None, P.Instance(BaseAutoEncoder)], "score": [P.OneOf(SCORES)],
        "n_neighbors": [None, P.OneOf(("auto",)), P.Int(1)], "code_density": [P.Bool()],
        "contamination": [P.Float(0, 0.5, high_open=True)],
        "validation_fraction": [P.Float(0, 1, low_open=True, high_open=True)], "random_state": [P.Seed()],
        "device": [P.Instance(str)],
    }

    def _check_params(self) -> None:
        P.check_params(type(self).__name__, self.get_params(deep=False), self._parameter_constraints)

    def _resolve_neighbors(self, model, n_normal: int) -> int | None:
        k = self.n_neighbors
        if k == "auto":
            k = 5 if len(model.sample_shape_) == 1 else None
        if k is not None and k >= n_normal:
            if self.n_neighbors != "auto":
                raise InvalidInputError(f"n_neighbors={k} needs more than {k} normal samples, got {n_normal}")
            k = max(1, n_normal - 1)
        return k

    def _fit_neighbors(self, normal) -> NearestNeighbors:
        """A neighbour index over (a random sample of at most MAX_REFERENCE_ROWS) normal rows."""
        rows = np.arange(len(normal))
        if len(rows) > MAX_REFERENCE_ROWS:
            rows = np.sort(check_random_state(self.random_state).choice(rows, MAX_REFERENCE_ROWS,
                                                                       replace=False))
        self.reference_rows_ = rows
        # At most MAX_REFERENCE_ROWS read, from disk too; kept for export (aekit.export_onnx).
        self.reference_ = self.preprocessed(normal[rows])
        return NearestNeighbors(n_neighbors=self.n_neighbors_).fit(self.reference_)

    def preprocessed(self, X) -> np.ndarray:
        """Samples as flat vectors in the model's preprocessed units (where distances compare)."""
        check_is_fitted(self, "model_")
        scaler = self.model_.scaler_
        X = np.asarray(X, dtype=np.float32).reshape(len(X), *self.model_.sample_shape_)
        return ((X - scaler.shift) * scaler.scale).reshape(len(X), -1)

    def neighbor_distance(self, X, rows=None, return_nearest=False):
        """Distance to the k-th nearest reference row (and, with ``return_nearest``, that row's
        index in ``reference_``). ``rows``: the inputs' own indices among the normal rows, for
        inputs that may be reference rows themselves: those are not counted as their own
        neighbour (a leave-one-out distance, like a new input's)."""
        check_is_fitted(self, "model_")
        if self.neighbors_ is None:
            raise UnsupportedOperationError("this detector scores no neighbour distance (n_neighbors=None)")
        k = self.n_neighbors_
        distances, neighbours = self.neighbors_.kneighbors(self.preprocessed(X),
                                                           n_neighbors=k + (rows is not None))
        if rows is not None:
            own = self.reference_rows_[neighbours] == np.asarray(rows)[:, None]
            # Drop the self-match where there is one, else the (k+1)-th neighbour; duplicates
            # of a row still count as its neighbours.
            drop = np.where(own.any(1), own.argmax(1), k)
            kept = np.arange(k + 1)[None, :] != drop[:, None]
            distances = distances[kept].reshape(len(distances), k)
            neighbours = neighbours[kept].reshape(len(neighbours), k)
        if return_nearest:
            return distances[:, k - 1], neighbours[:, k - 1]
        return distances[:, k - 1]

    def _raw_scores(self, X, rows=None) -> list[np.ndarray]:
        """The score's parts (higher = more anomalous) before standardisation, a chunk of rows at
        a time (a score never depends on the other inputs scored with it). ``rows``: the inputs'
        indices among the normal rows when they are normal rows (see :meth:`neighbor_distance`)."""
        step = chunk_rows(int(np.prod(X.shape[1:])))
        chunks = [self._chunk_scores(chunk, None if rows is None else rows[i * step:(i + 1) * step])
                  for i, chunk in enumerate(row_chunks(X))]
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]

    def _chunk_scores(self, X: np.ndarray, rows) -> list[np.ndarray]:
        scores = [model_scores(self.model_, self.score_, X, getattr(self, "detail_floor_", 0.0),
                               getattr(self, "scored_dims_", None))]
        if self.neighbors_ is not None:
            scores.append(self.neighbor_distance(X, rows))
        if self.density_ is not None:
            scores.append(-self.density_.score_samples(self.model_.transform(X).astype(np.float64)))
        return scores

    def _combine(self, raw: list[np.ndarray]) -> np.ndarray:
        return combine(raw, self.standardise_)

    def score_graph(self) -> ScoreGraph:
        """This detector's ``anomaly_score`` as a torch module (what ``export_onnx`` traces)."""
        check_is_fitted(self, "threshold_")
        return ScoreGraph(self)

    def anomaly_score(self, X) -> np.ndarray:
        """Higher = more anomalous; above ``threshold_`` means flagged."""
        check_is_fitted(self, "threshold_")
        return self._combine(self._raw_scores(as_rows(X)))

    def p_value(self, X) -> np.ndarray:
        """The probability that a normal input scores at least as high as each of ``X``
        (calibrated on the held-out normal inputs; see ``aekit.detectors.Calibration``)."""
        check_is_fitted(self, "threshold_")
        return self.calibration_.p_value(self.anomaly_score(X))

    def surprise(self, X) -> np.ndarray:
        """``-log10`` of :meth:`p_value`: 2 means one normal input in a hundred scores this high;
        it keeps growing beyond the highest held-out score instead of saturating."""
        check_is_fitted(self, "threshold_")
        return self.calibration_.surprise(self.anomaly_score(X))

    def score_samples(self, X) -> np.ndarray:
        return -self.anomaly_score(X)

    def decision_function(self, X) -> np.ndarray:
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        return np.where(self.anomaly_score(X) > self.threshold_, -1, 1)

    def explain(self, X, *, channels: int | None = None, names=None) -> Explanation:
        """Each input's score split over its input dimensions: which columns, which channels and
        time steps, which pixels make it anomalous (``aekit.detectors.Explanation``).

        Exact for every part of the score (the reconstruction error per dimension, the
        neighbour distance per dimension); what no dimension carries (the code's part of
        -log p(x), the code density) is the explanation's ``rest``. Each column's (channel's)
        ``drops`` too: how much lower the score is with that column alone at its normal value
        (that channel as the model reconstructs it; one more scoring each), which rank them.
        ``channels``: for flat windows,
        how many value columns they hold (to group them by channel); ``names``: the columns' or
        channels' names (default: the feature names it was fitted with).
        """
        check_is_fitted(self, "threshold_")
        return explanation.explain(self, as_rows(X), channels=channels, names=names)

    def error_maps(self, X) -> np.ndarray:
        """Per-dimension reconstruction error (in the input's shape): where an input is odd."""
        check_is_fitted(self, "threshold_")
        return self.model_.reconstruction_error(as_rows(X), per_dim=True)


def unseen_rows(model, X) -> tuple[np.ndarray, str]:
    """The rows of normal data ``X`` (validated as the model's fit validates its input) that
    ``model`` did not train on, and which they are in words: all of them unless ``X`` is the
    model's training data (the same bytes), where only the rows its fit held out qualify."""
    every_row = np.arange(len(X))
    recorded = getattr(model, "training_data_sha256_", None)
    if recorded is None:
        return every_row, (f"all {len(X)} normal rows (the model does not record its training data; "
                           "they must not include it)")
    h = hashlib.sha256()
    update_digest(h, X)
    if h.hexdigest() != recorded:
        return every_row, f"all {len(X)} normal rows (not the model's training data)"
    rows = held_out_rows(len(X), model.validation_fraction, model.seed_).numpy()
    if len(rows) < 2:
        return every_row, (f"all {len(X)} normal rows, the model's own training data: its fit held "
                           "none out, so false alarms will exceed the rate asked for (train with "
                           "validation_fraction > 0, or pass normal data it did not train on)")
    return np.sort(rows), f"the {len(rows)} normal rows the model's fit held out (not trained on)"
