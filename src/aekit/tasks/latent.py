"""Exploring the latent space: traversals, interpolations, attribute vectors, generation.

All functions take a fitted aekit model and return decoded data in the input's units and shape.
Codes are latent means (``transform``); "one standard deviation" is the prior's (1) for a VAE and
the training codes' own for a deterministic autoencoder.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from ..errors import InvalidInputError


def check_finite_codes(codes: np.ndarray, what: str) -> np.ndarray:
    """``codes``, or one clear error when some are NaN or infinite (an input far outside the
    data the model was trained on overflows it), before a projection fails on them."""
    bad = ~np.isfinite(codes).all(axis=1)
    if bad.any():
        raise InvalidInputError(f"the model's codes of {bad.sum():,} of the {len(codes):,} {what} are NaN "
                                f"or infinite (first: input {int(np.argmax(bad))}): those inputs lie far "
                                "outside the data the model was trained on, or the model is broken")
    return codes


def code_scale(model) -> tuple[np.ndarray, np.ndarray]:
    """(centre, standard deviation) of the codes: the prior for a VAE, the fitted Gaussian else."""
    if model.is_variational:
        return np.zeros(model.latent_dim), np.ones(model.latent_dim)
    return model.code_mean_, np.sqrt(np.diag(model.code_cov_))


def decoding_label(model, label):
    """The class a conditional model decodes with: ``label`` matched by its text (a label typed
    on a command line or sent by a page), its first class when None; None for other models."""
    if not model.is_conditional:
        return None
    if label is None:
        return model.classes_[0]
    matches = [c for c in model.classes_ if str(c) == str(label)]
    if not matches:
        raise InvalidInputError(f"label {label!r} is not one of the model's classes "
                                f"{model.classes_.tolist()[:10]}")
    return matches[0]


def _decode(model, Z, y=None) -> np.ndarray:
    labels = {} if y is None else {"y": np.resize(np.asarray(y), len(Z))}
    return model.inverse_transform(np.asarray(Z, dtype=np.float32), **labels)


def traverse(model, x=None, dims=None, n_steps: int = 9, span: float = 3.0, y=None):
    """Decode sweeps of one latent dimension at a time.

    Returns ``(grid, offsets)``: ``grid[i, j]`` decodes the code of ``x`` (or the centre of the
    codes) with dimension ``dims[i]`` moved by ``offsets[j]`` standard deviations, offsets
    running from ``-span`` to ``+span``. A conditional model decodes with label ``y``.
    """
    centre, std = code_scale(model)
    base = centre if x is None else model.transform(np.asarray(x)[None])[0]
    dims = list(range(min(model.latent_dim, 10))) if dims is None else list(dims)
    if any(not 0 <= d < model.latent_dim for d in dims):
        raise InvalidInputError(f"dims must lie in [0, {model.latent_dim}), got {dims}")
    offsets = np.linspace(-span, span, n_steps)
    codes = np.repeat(base[None, None], len(dims), 0).repeat(n_steps, 1)  # (dims, steps, k)
    for i, d in enumerate(dims):
        codes[i, :, d] = base[d] + offsets * std[d]
    decoded = _decode(model, codes.reshape(-1, model.latent_dim), y)
    return decoded.reshape(len(dims), n_steps, *decoded.shape[1:]), offsets


def interpolate(model, x0, x1, n_steps: int = 10, method: str = "linear", y=None) -> np.ndarray:
    """Decode the path between the codes of ``x0`` and ``x1``: ``linear`` or ``spherical``
    (see :func:`path_codes`)."""
    z0, z1 = model.transform(np.stack([np.asarray(x0), np.asarray(x1)]))
    return _decode(model, path_codes(z0, z1, np.linspace(0, 1, n_steps), method), y)


def path_codes(z0, z1, t, method: str = "linear") -> np.ndarray:
    """The codes at fractions ``t`` (0 at ``z0``, 1 at ``z1``) of the path between two codes.

    Spherical interpolation keeps the norm of the path near the endpoints', which for a Gaussian
    prior stays where the codes are dense instead of cutting through the centre.
    """
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    if method == "linear":
        return (1 - t) * z0 + t * z1
    if method != "spherical":
        raise InvalidInputError(f"method must be 'linear' or 'spherical', got {method!r}")
    cos = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12)
    omega = np.arccos(np.clip(cos, -1, 1))
    if omega < 1e-6:  # (nearly) parallel codes: the arc is the line
        return (1 - t) * z0 + t * z1
    return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def attribute_vector(model, X_with, X_without) -> np.ndarray:
    """Mean code of inputs that have an attribute minus that of inputs that lack it."""
    if len(X_with) == 0 or len(X_without) == 0:
        raise InvalidInputError("both groups need at least one input to form an attribute vector")
    return model.transform(X_with).mean(axis=0) - model.transform(X_without).mean(axis=0)


def apply_attribute(model, X, vector, strengths=(0.0, 0.5, 1.0, 1.5), y=None) -> np.ndarray:
    """Decode ``code(x) + alpha * vector`` for each strength alpha: shape (strengths, n, ...)."""
    codes = model.transform(X)
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (model.latent_dim,):
        raise InvalidInputError(f"the attribute vector must have {model.latent_dim} entries")
    shifted = np.stack([codes + a * vector for a in strengths])  # (strengths, n, k)
    decoded = _decode(model, shifted.reshape(-1, model.latent_dim), y)
    return decoded.reshape(len(strengths), len(X), *decoded.shape[1:])


def sample_code_mixture(model, X, n_samples: int, n_components: int = 10,
                        random_state: int = 0) -> np.ndarray:
    """Generate from a Gaussian mixture fitted to the training codes, decoded.

    Makes a plain autoencoder generate, and often gives a VAE sharper samples than its prior,
    because the mixture follows where the codes actually lie.
    """
    codes = model.transform(X).astype(np.float64)  # float32 covariances come out slightly asymmetric
    n_components = min(n_components, len(codes))
    # reg_covar: a floor that keeps every component safely positive-definite to sample from
    mixture = GaussianMixture(n_components, covariance_type="full", reg_covar=1e-4,
                              random_state=random_state).fit(codes)
    return _decode(model, mixture.sample(n_samples)[0])
