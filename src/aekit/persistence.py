"""A trained model is a folder: ``config.json`` + ``model.safetensors``.

``config.json`` holds everything needed to rebuild the model (the preset and its parameters,
the five choices, the data's shape, the preprocessing statistics, the aekit version) and the
SHA-256 of the weights file, so a truncated or edited folder is caught before use. Loading
parses JSON and reads tensors: it never unpickles and never runs code from the folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ._atomic import atomic_dir
from .errors import ModelFileError
from .model import Autoencoder, ModelConfig
from .preprocessing import Scaler

FORMAT, FORMAT_VERSION = "aekit-model", 1
CONFIG, WEIGHTS = "config.json", "model.safetensors"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(estimator, path) -> None:
    from sklearn.utils.validation import check_is_fitted

    from . import __version__

    check_is_fitted(estimator, "model_")
    fitted = {"input_shape": list(estimator.input_shape_), "seed": estimator.seed_,
              "n_iter": estimator.n_iter_, "history": estimator.history_,
              "precision": estimator.precision_}
    if hasattr(estimator, "classes_"):
        fitted["classes"] = estimator.classes_.tolist()
        fitted["class_prior"] = estimator.class_prior_.tolist()
    if hasattr(estimator, "code_mean_"):
        fitted["code_mean"] = estimator.code_mean_.tolist()
        fitted["code_cov"] = estimator.code_cov_.tolist()
    with atomic_dir(path) as tmp:
        save_file({k: v.contiguous() for k, v in estimator.model_.state_dict().items()},
                  str(tmp / WEIGHTS))
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "aekit_version": __version__,
                  "estimator": type(estimator).__name__, "params": _json_params(estimator),
                  "model": estimator.model_.config.to_dict(),
                  "preprocessing": estimator.scaler_.to_dict(), "fitted": fitted,
                  "weights_sha256": _sha256(tmp / WEIGHTS)}
        (tmp / CONFIG).write_text(json.dumps(config, indent=2))


def _json_params(estimator) -> dict:
    params = estimator.get_params()
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None  # a RandomState object; the seed drawn from it is kept
    return params


def load(path):
    """Load a model folder written by ``save``; raises :class:`ModelFileError` if it is unusable.

    Examples
    --------
    >>> import numpy as np, aekit, tempfile
    >>> X = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    >>> ae = aekit.AutoEncoder(latent_dim=2, epochs=2, verbose=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ae.save(d + "/model")
    ...     np.allclose(aekit.load(d + "/model").transform(X), ae.transform(X))
    True
    """
    from .estimators import REGISTRY

    folder = Path(path)
    if not (folder / CONFIG).is_file():
        raise ModelFileError(f"{folder} is not a model folder: {CONFIG} is missing")
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{folder / CONFIG} is not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{folder / CONFIG} is not an aekit model config")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{folder} has model format version {config.get('format_version')}; "
                             f"this aekit reads version {FORMAT_VERSION}")
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f"{weights} is missing")
    if _sha256(weights) != config.get("weights_sha256"):
        raise ModelFileError(f"{weights} does not match the checksum in {CONFIG}: "
                             "the folder was truncated or edited; save the model again")
    try:
        cls = REGISTRY[config["estimator"]]
        estimator = cls(**config["params"])
        model = Autoencoder(ModelConfig.from_dict(config["model"]))
        model.load_state_dict(load_file(str(weights)))
        _restore_fitted(estimator, config)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ModelFileError(f"{folder} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    estimator.model_ = model.eval()
    return estimator


def _restore_fitted(estimator, config: dict) -> None:
    fitted = config["fitted"]
    estimator.input_shape_ = tuple(fitted["input_shape"])
    estimator.n_features_in_ = int(np.prod(estimator.input_shape_))
    estimator.seed_ = fitted["seed"]
    estimator.n_iter_ = fitted["n_iter"]
    estimator.history_ = fitted["history"]
    estimator.precision_ = fitted.get("precision", "fp32")  # absent from folders of early 0.1.0 builds
    estimator.scaler_ = Scaler.from_dict(config["preprocessing"])
    if "classes" in fitted:
        estimator.classes_ = np.asarray(fitted["classes"])
        estimator.class_prior_ = np.asarray(fitted["class_prior"], dtype=np.float64)
    if "code_mean" in fitted:
        estimator.code_mean_ = np.asarray(fitted["code_mean"], dtype=np.float64)
        estimator.code_cov_ = np.asarray(fitted["code_cov"], dtype=np.float64)
    sample_shape = estimator._sample_shape()
    if np.broadcast_shapes(estimator.scaler_.shift.shape, sample_shape) != sample_shape:
        raise ValueError("preprocessing statistics do not fit the data shape")
