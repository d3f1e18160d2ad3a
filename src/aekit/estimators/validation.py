"""What an estimator accepts, checked once where data enter: samples become rows
(``RowSource``: an array in memory or rows read on demand) of the model's sample shape, labels
become class indices."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_array, validate_data

from ..data.in_memory import ArrayRows, on_demand
from ..data.stream import RowSource, row_chunks
from ..errors import InvalidInputError


def _as_numpy(X):
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


def validate_samples(estimator, X, reset: bool) -> RowSource:
    """Check ``X`` at the boundary; return its rows in the model's sample shape (uint8 or
    float32). ``reset``: a fit, which records the input's shape (and column names)."""
    rows = on_demand(X)
    if rows is not None and rows.in_memory:
        X = rows.array  # checked as the array it is
    elif rows is not None:
        return _validate_rows(estimator, rows, reset)
    X = _as_numpy(X)
    if sp.issparse(X):
        raise InvalidInputError("sparse X is not supported: pass X.toarray()")
    if not hasattr(X, "columns"):  # DataFrames keep their column names for validate_data
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"X cannot be read as an array: {exc}") from exc
    try:
        kinds = {"dtype": [np.float32, np.float64, np.uint8], "ensure_all_finite": False}
        if X.ndim == 2 or hasattr(X, "columns"):
            X = validate_data(estimator, X, reset=reset, **kinds)
        else:
            X = check_array(X, allow_nd=True, **kinds)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{exc} (X must be numeric, finite and non-empty: "
                                "(n, features) vectors or (n, H, W) / (n, C, H, W) images)") from exc
    if X.ndim > 4:
        raise InvalidInputError(f"X has {X.ndim} dimensions; expected (n, features), "
                                "(n, H, W) or (n, C, H, W)")
    check_finite(X)
    if reset:
        estimator.input_shape_ = tuple(X.shape[1:])
        if X.ndim > 2:
            estimator.n_features_in_ = math.prod(estimator.input_shape_)
    elif tuple(X.shape[1:]) != estimator.input_shape_:
        raise InvalidInputError(
            f"X has samples of shape {tuple(X.shape[1:])}, but this {type(estimator).__name__} "
            f"was fitted on samples of shape {estimator.input_shape_}")
    if X.dtype == np.float64:
        X = X.astype(np.float32)
    # Views such as X[::-1] have negative strides, which torch cannot wrap.
    return ArrayRows(np.ascontiguousarray(X).reshape(len(X), *estimator.sample_shape_))


def _validate_rows(estimator, X: RowSource, reset: bool) -> RowSource:
    """The checks of :func:`validate_samples` for rows read on demand (aekit.data.stream)."""
    if len(X) == 0 or X.ndim > 4:
        raise InvalidInputError(f"{X.name}: {X.shape} is not (n, features), (n, H, W) or (n, C, H, W) "
                                "with n > 0")
    check_finite(X)
    if reset:
        estimator.input_shape_ = X.sample_shape
        estimator.n_features_in_ = math.prod(estimator.input_shape_)
        if X.feature_names is not None:
            estimator.feature_names_in_ = np.asarray(X.feature_names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.sample_shape != estimator.input_shape_:
        raise InvalidInputError(
            f"{X.name} has samples of shape {X.sample_shape}, but this {type(estimator).__name__} "
            f"was fitted on samples of shape {estimator.input_shape_}")
    return X.with_sample_shape(estimator.sample_shape_)


def check_finite(X) -> None:
    """Refuse NaN and infinity, naming the first; a pass over row chunks (X may be on disk)."""
    if X.dtype == np.uint8:
        return
    first, count, offset = None, 0, 0
    for chunk in row_chunks(X):
        if not np.isfinite(chunk).all():
            bad = ~np.isfinite(chunk)
            count += int(bad.sum())
            if first is None:
                where = np.argwhere(bad)[0]
                first = (offset + int(where[0]), tuple(int(i) for i in where[1:]), chunk[tuple(where)])
        offset += len(chunk)
    if first is None:
        return
    row, index, value = first
    what = "NaN" if np.isnan(value) else "infinity"
    detail = f"feature {index[0]}" if X.ndim == 2 else f"index {index}"
    raise InvalidInputError(f"X contains {what} ({count} non-finite values; the first at sample {row}, "
                            f"{detail}): remove or impute missing values first")


def validate_labels(estimator, y, n: int, reset: bool) -> torch.Tensor | None:
    """Class indices of ``y`` for a conditional model (None for the others); ``reset``: a fit,
    which records the classes and their frequencies."""
    if not estimator.is_conditional:
        return None
    if y is None:
        raise InvalidInputError(f"{type(estimator).__name__} requires y to be passed, but the target "
                                "y is None: pass the class labels")
    y = np.asarray(_as_numpy(y))
    if y.ndim == 0:
        y = np.full(n, y.item())
    if y.shape != (n,):
        raise InvalidInputError(f"y must have one label per sample: shape ({n},), got {y.shape}")
    if reset:
        estimator.classes_, counts = np.unique(y, return_counts=True)
        estimator.class_prior_ = counts / counts.sum()
    unknown = np.setdiff1d(y, estimator.classes_)
    if len(unknown):
        raise InvalidInputError(f"labels {unknown[:5].tolist()} were not seen in fit; "
                                f"known classes: {estimator.classes_[:10].tolist()}")
    return torch.from_numpy(np.searchsorted(estimator.classes_, y)).long()


def validate_attributes(estimator, attributes, n: int, reset: bool) -> torch.Tensor | None:
    """Known attributes of the samples (weak supervision): a table ``(n, a)`` of numbers, NaN
    where unknown, one column per code dimension it names (the first ``a``). Returns them
    standardised, as the codes are meant to carry them. ``reset``: a fit, which records the
    attributes' names, means and scales (or forgets those of an earlier fit)."""
    if attributes is None:
        if reset:
            for attr in ("attribute_names_", "attribute_mean_", "attribute_scale_"):
                if hasattr(estimator, attr):
                    delattr(estimator, attr)
        return None
    if estimator.is_conditional or "attribute_weight" not in estimator.get_params():
        raise InvalidInputError(f"{type(estimator).__name__} does not take attributes: a VAE does")
    names = getattr(attributes, "columns", None)
    if hasattr(attributes, "to_numpy"):
        attributes = attributes.to_numpy()
    try:
        values = np.asarray(_as_numpy(attributes), dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("attributes must be numbers (NaN where unknown)") from None
    values = values.reshape(len(values), -1) if values.ndim == 1 else values
    if values.ndim != 2 or len(values) != n:
        raise InvalidInputError(f"attributes must have one row per sample: ({n}, a), got {values.shape}")
    if reset:
        if values.shape[1] > estimator.latent_dim:
            raise InvalidInputError(f"{values.shape[1]} attributes for {estimator.latent_dim} code "
                                    "dimensions: each attribute needs a dimension of its own")
        known = np.isfinite(values)
        if np.isinf(values).any() or (known.sum(axis=0) < 2).any():
            raise InvalidInputError("each attribute needs at least 2 known (finite) values; "
                                    "mark unknown ones NaN")
        with np.errstate(invalid="ignore"):
            mean, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        labels = [str(c) for c in names] if names is not None else [str(i) for i in range(values.shape[1])]
        if (scale <= 0).any():
            constant = [labels[i] for i in np.flatnonzero(scale <= 0)]
            raise InvalidInputError(f"attribute column(s) {', '.join(constant)} take one value: "
                                    "nothing to learn from")
        estimator.attribute_names_ = np.asarray(
            labels if names is not None else [f"attribute {i}" for i in labels], dtype=object)
        estimator.attribute_mean_, estimator.attribute_scale_ = mean, scale
    elif not hasattr(estimator, "attribute_names_"):
        raise InvalidInputError("this model was fitted without attributes")
    elif values.shape[1] != len(estimator.attribute_names_):
        raise InvalidInputError(f"expected {len(estimator.attribute_names_)} attribute columns, "
                                f"got {values.shape[1]}")
    return torch.from_numpy((values - estimator.attribute_mean_) / estimator.attribute_scale_).float()
