"""How far each latent value means one thing: the field's disentanglement metrics, computed
from codes and the generative factors (or attribute labels) of the same inputs.

* :func:`mutual_information` — the matrix ``MI(z_j; v_k)`` (nats) between each code dimension,
  discretised into equal-width bins, and each factor, as disentanglement_lib computes it;
* :func:`mig` — the Mutual Information Gap (Chen et al., 2018): per factor, the gap between the
  two code dimensions that know most about it, over the factor's entropy; averaged;
* :func:`dci` — Disentanglement, Completeness, Informativeness (Eastwood & Williams, 2018), from
  the feature importances of a gradient-boosted tree per factor predicting it from the codes;
* :func:`sap` — the Separated Attribute Predictability (Kumar et al., 2018): per factor, the gap
  between the two code dimensions that predict it best on their own.

Codes equal to the factors score about 1 on every metric, codes independent of them about 0,
and a code dimension that mixes two factors scores in between (tests/test_disentanglement.py).
Factors are read as discrete values (continuous ones are binned like the codes).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import mutual_info_score
from sklearn.model_selection import train_test_split

from ..errors import InvalidInputError

N_BINS = 20  # disentanglement_lib's default for discretising codes
MAX_FACTOR_VALUES = 50  # a factor with more distinct values is binned


def discretise(values: np.ndarray, bins: int = N_BINS) -> np.ndarray:
    """Each column of ``values`` as integer bins: equal-width over its range, or its distinct
    values where it has at most ``MAX_FACTOR_VALUES`` of them."""
    values = np.asarray(values)
    values = values.reshape(len(values), -1)
    out = np.empty(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        column = values[:, j]
        distinct = np.unique(column)
        if len(distinct) <= MAX_FACTOR_VALUES and bins >= len(distinct):
            out[:, j] = np.searchsorted(distinct, column)
        else:
            column = column.astype(np.float64)
            edges = np.histogram_bin_edges(column, bins)
            out[:, j] = np.clip(np.digitize(column, edges[1:-1]), 0, bins - 1)
    return out


def _factor_codes(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    factors = factors.reshape(len(factors), -1)
    if codes.ndim != 2 or len(codes) != len(factors):
        raise InvalidInputError(f"codes ({codes.shape}) and factors ({factors.shape}) must be two tables of "
                                "the same inputs, one row each")
    if len(codes) < 10:
        raise InvalidInputError(f"disentanglement metrics need at least 10 inputs, got {len(codes)}")
    return codes, discretise(factors, bins=N_BINS)


def mutual_information(codes, factors, bins: int = N_BINS) -> np.ndarray:
    """``(latent_dim, n_factors)``: MI in nats between each code dimension (binned) and each factor."""
    codes, factors = _factor_codes(codes, factors)
    binned = discretise(codes, bins)
    return np.array([[mutual_info_score(binned[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(binned.shape[1])])


def factor_entropy(factors) -> np.ndarray:
    """Each factor's entropy in nats, as discretised for the metrics."""
    factors = discretise(np.asarray(factors).reshape(len(factors), -1), bins=N_BINS)
    return np.array([mutual_info_score(f, f) for f in factors.T])


def mig(codes, factors) -> float:
    """The Mutual Information Gap: 1 when each factor is known to one code dimension only."""
    codes, discrete = _factor_codes(codes, factors)
    if codes.shape[1] < 2:
        raise InvalidInputError("MIG compares the two most informative code dimensions: it needs at least 2")
    mi = mutual_information(codes, discrete)
    top = np.sort(mi, axis=0)[::-1]
    entropy = factor_entropy(discrete)
    known = entropy > 0
    return float(np.mean((top[0, known] - top[1, known]) / entropy[known])) if known.any() else 0.0


def dci(codes, factors, *, test_size: float = 0.3, random_state: int = 0) -> dict:
    """Disentanglement (each code dimension matters for one factor), completeness (each factor
    is captured by one code dimension), informativeness (test accuracy of predicting the
    factors from the codes), and the importance matrix ``(latent_dim, n_factors)``."""
    # Imported here, not with aekit: sklearn.ensemble loads its own OpenMP runtime beside torch's,
    # and torchrun's worker processes then aborted at exit now and then (tests/test_distributed.py).
    from sklearn.ensemble import GradientBoostingClassifier

    codes, discrete = _factor_codes(codes, factors)
    train, test = train_test_split(np.arange(len(codes)), test_size=test_size, random_state=random_state)
    importance = np.zeros((codes.shape[1], discrete.shape[1]))
    accuracy = []
    for k in range(discrete.shape[1]):
        target = discrete[:, k]
        if len(np.unique(target[train])) < 2:
            accuracy.append(1.0)  # a constant factor: nothing to predict, nothing to credit
            continue
        tree = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=random_state)
        tree.fit(codes[train], target[train])
        importance[:, k] = tree.feature_importances_
        accuracy.append(float(tree.score(codes[test], target[test])))
    return {"disentanglement": _disentanglement(importance), "completeness": _disentanglement(importance.T),
            "informativeness": float(np.mean(accuracy)), "importance": importance}


def _disentanglement(importance: np.ndarray) -> float:
    """1 - entropy (base: the number of columns) of each row's importances, weighted by the row's
    share of all importance."""
    if importance.shape[1] < 2 or importance.sum() <= 0:
        return 1.0 if importance.sum() > 0 else 0.0
    p = importance / np.maximum(importance.sum(axis=1, keepdims=True), 1e-12)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) / np.log(importance.shape[1])
    weights = importance.sum(axis=1) / importance.sum()
    return float(np.sum(weights * (1 - entropy)))


def sap(codes, factors, *, test_size: float = 0.3, random_state: int = 0) -> float:
    """The Separated Attribute Predictability: per factor, the gap between the best and the
    second-best code dimension at predicting it alone (the balanced accuracy of the best
    threshold rule per class, above chance, scaled to [0, 1]); averaged over factors."""
    codes, discrete = _factor_codes(codes, factors)
    if codes.shape[1] < 2:
        raise InvalidInputError("SAP compares the two most predictive code dimensions: it needs at least 2")
    train, test = train_test_split(np.arange(len(codes)), test_size=test_size, random_state=random_state)
    gaps = []
    for k in range(discrete.shape[1]):
        classes = np.unique(discrete[:, k])
        if len(classes) < 2:
            continue
        scores = np.sort([_alone(codes[:, j], discrete[:, k], classes, train, test)
                          for j in range(codes.shape[1])])[::-1]
        gaps.append(scores[0] - scores[1])
    return float(np.mean(gaps)) if gaps else 0.0


def _alone(code: np.ndarray, target: np.ndarray, classes: np.ndarray, train, test) -> float:
    """How well one code dimension predicts a discrete factor: nearest class mean (of the
    training rows) on the test rows, balanced accuracy scaled so that chance is 0."""
    means = np.array([code[train][target[train] == c].mean() if (target[train] == c).any() else np.inf
                      for c in classes])
    predicted = classes[np.abs(code[test][:, None] - means[None, :]).argmin(axis=1)]
    recalls = [np.mean(predicted[target[test] == c] == c) for c in classes if (target[test] == c).any()]
    chance = 1.0 / len(classes)
    return max(0.0, (float(np.mean(recalls)) - chance) / (1 - chance))


ACTIVE_KL = 0.01  # nats: a code dimension with less KL from the prior carries nothing (Duan et al.)


def active_dimensions(kl_per_dimension, threshold: float = ACTIVE_KL) -> np.ndarray:
    """Which code dimensions carry information: mean KL(q(z_d|x) || N(0, 1)) above ``threshold``."""
    return np.asarray(kl_per_dimension, dtype=np.float64) > threshold


def udr(codes: list, kl_per_dimension: list | None = None) -> np.ndarray:
    """The Unsupervised Disentanglement Ranking (Duan et al., 2020; its Spearman variant): one
    score per model, without labels, from the codes of several models (e.g. seeds) of the same
    inputs. Two disentangled models' active dimensions match one to one up to order and sign
    (each row and column of their |rank-correlation| matrix has one large entry), while
    entangled models differ by arbitrary rotations; a model's score is the median of its pair
    scores. ``kl_per_dimension``: each model's mean KL per dimension, to keep the active ones
    (default: all count)."""
    if len(codes) < 2:
        raise InvalidInputError("UDR compares models with each other: give the codes of at least 2")
    codes = [np.asarray(c, dtype=np.float64) for c in codes]
    if any(c.ndim != 2 or len(c) != len(codes[0]) for c in codes) or len(codes[0]) < 10:
        raise InvalidInputError("UDR needs each model's codes of the same inputs (at least 10), one row each")
    active = [np.ones(c.shape[1], bool) if kl_per_dimension is None else active_dimensions(k)
              for c, k in zip(codes, kl_per_dimension or [None] * len(codes), strict=True)]
    pair = np.full((len(codes), len(codes)), np.nan)
    for a in range(len(codes)):
        for b in range(a + 1, len(codes)):
            pair[a, b] = pair[b, a] = _udr_pair(codes[a][:, active[a]], codes[b][:, active[b]])
    return np.array([np.nanmedian(np.delete(row, i)) for i, row in enumerate(pair)])


def _udr_pair(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape[1] == 0 or b.shape[1] == 0:
        return 0.0
    ranks = rankdata(np.hstack([a, b]), axis=0)  # Spearman: Pearson's correlation of the ranks
    with np.errstate(invalid="ignore", divide="ignore"):  # (a constant dimension correlates with nothing)
        rho = np.nan_to_num(np.abs(np.corrcoef(ranks, rowvar=False)))[:a.shape[1], a.shape[1]:]
    # Per column (row): the share of its correlation held by its largest entry, times that entry.
    columns = np.where(rho.sum(0) > 0, rho.max(0) ** 2 / np.maximum(rho.sum(0), 1e-12), 0.0)
    rows = np.where(rho.sum(1) > 0, rho.max(1) ** 2 / np.maximum(rho.sum(1), 1e-12), 0.0)
    return float((columns.sum() + rows.sum()) / (a.shape[1] + b.shape[1]))
