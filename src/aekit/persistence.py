"""A trained model is a folder: ``config.json`` + ``model.safetensors``.

``config.json`` holds everything needed to rebuild the model: the preset (looked up in
``REGISTRY``, filled by ``@register``) and its parameters, the fitted state the estimator
learned (``fitted_state``: the five choices, the data's shape, preprocessing, ...), the aekit
version, the SHA-256 of the weights file, and a SHA-256 of its own content. Loading verifies
both checksums, checks every tensor shape the config implies against the safetensors header
before building anything, and never unpickles or runs code from the folder.

What the checksums are, and are not: they catch a truncated copy, flipped bits and any edit
made by hand or by another tool; they are not a signature (whoever edits a file on purpose
can recompute them), which is why loading is also safe for a folder that passes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ._atomic import atomic_dir, remove_stale_temporaries, safetensors_os_error
from ._jsonio import digest, read_object
from ._params import check_params
from .checkpoint import non_finite_tensor
from .errors import InvalidInputError, ModelFileError, OutputError, UntrustedCodeError
from .model import AutoencoderNet, ModelConfig
from .nn.custom import CustomNetwork, is_saveable
from .preprocessing import Scaler

# Version 3: the "conv" network's decoder changed its layers (issue 12: its last transposed
# convolution writes the output); version-2 folders of every other network still load.
FORMAT, FORMAT_VERSION = "aekit-model", 3
CONFIG, WEIGHTS = "config.json", "model.safetensors"
CONTENT_KEY = "content_sha256"  # the checksum of config.json's other keys

REGISTRY: dict[str, type] = {}  # preset class name -> class: the only names a folder can load


def register(cls):
    """Class decorator: a preset saved under its class name can be loaded back."""
    REGISTRY[cls.__name__] = cls
    return cls


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_model_folder(path: Path) -> bool:
    """True for a folder that aekit wrote as a model and that holds nothing else."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    if not {p.name for p in path.iterdir()} <= {CONFIG, WEIGHTS}:
        return False
    try:
        return read_object(path / CONFIG).get("format") == FORMAT
    except InvalidInputError:
        return False


def check_replaceable(path: Path) -> None:
    """Raise :class:`OutputError` unless a model may be written at ``path``: nothing is there,
    an empty folder, or an aekit model folder (replaced as a whole)."""
    if not str(path).strip():  # checked before Path(), which turns "" into "."
        raise OutputError("the model path is empty: name a folder to write the model to")
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return
    if is_model_folder(path):
        return
    what = ("a file" if path.is_file() else "a link" if path.is_symlink()
            else "a folder that is not an aekit model")
    raise OutputError(f"refusing to write a model to {path}: it is {what}, and aekit replaces only "
                      "model folders it wrote. Choose another path, or move it away first")


def save_model(estimator, path) -> None:
    from . import __version__

    state = fitted_state(estimator)
    network = estimator.model_.config.network
    if isinstance(network, CustomNetwork) and is_saveable(network):
        raise InvalidInputError(f"this model cannot be saved: {is_saveable(network)}")
    check_replaceable(path)
    path = Path(path)
    with atomic_dir(path) as tmp:
        weights = {k: v.detach().cpu().contiguous() for k, v in estimator.model_.state_dict().items()}
        try:
            save_file(weights, str(tmp / WEIGHTS))
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise safetensors_os_error(exc) from exc
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "aekit_version": __version__,
                  "estimator": type(estimator).__name__, "params": _json_params(estimator),
                  "fitted": state, "weights_sha256": _sha256(tmp / WEIGHTS)}
        config[CONTENT_KEY] = digest(config)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2))


def _json_params(estimator) -> dict:
    params = {k: v.item() if isinstance(v, np.generic) else v for k, v in estimator.get_params().items()}
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None  # a RandomState object; the seed drawn from it is kept
    if isinstance(params.get("network"), CustomNetwork):
        params["network"] = params["network"].to_dict()
    return params


def model_digest(path) -> str:
    """The content checksum of a model folder's config.json: names one trained model."""
    return read_object(Path(path) / CONFIG, error=ModelFileError).get(CONTENT_KEY, "")


def load(path, *, trust_code: bool = False):
    """Load a model folder written by ``save``; raises :class:`ModelFileError` if it is unusable.

    A model with its own networks (``aekit.nn.custom.CustomNetwork``) is rebuilt by importing
    the module of its factories, which runs that module's code: that happens only with
    ``trust_code=True``; without it, an error names the module. Nothing is ever unpickled.

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
    folder = Path(path)
    config = _verified_config(folder)
    _check_trusted(folder, config, trust_code)
    try:
        return _rebuild(folder, config)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError, AttributeError) as exc:
        raise ModelFileError(f"{folder} cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _verified_config(folder: Path) -> dict:
    """``config.json`` of a model folder, its format and both checksums verified."""
    if not (folder.exists() or folder.is_symlink()):
        remove_stale_temporaries(folder)  # puts back a model a killed save had moved aside
    if not (folder / CONFIG).is_file():
        raise ModelFileError(f"{folder} is not a model folder: {CONFIG} is missing")
    config = read_object(folder / CONFIG, error=ModelFileError)
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{folder / CONFIG} is not an aekit model config")
    version = config.get("format_version")
    if version not in (2, FORMAT_VERSION):
        raise ModelFileError(f"{folder} has model format version {version!r}; "
                             f"this aekit reads versions 2 and {FORMAT_VERSION}: train or save it again")
    if not (isinstance(config.get("params"), dict) and isinstance(config.get("fitted"), dict)
            and isinstance(config["fitted"].get("model"), dict)):
        raise ModelFileError(f"{folder / CONFIG} is not the config aekit writes: its params, fitted and "
                             "fitted.model must be JSON objects")
    if version == 2 and config["fitted"]["model"].get("network") == "conv":
        raise ModelFileError(f"{folder} holds a convolutional network of an earlier aekit, whose "
                             "layers differ from today's \"conv\": train it again")
    body = {k: v for k, v in config.items() if k != CONTENT_KEY}
    if config.get(CONTENT_KEY) != digest(body):
        raise ModelFileError(f"{folder / CONFIG} does not match its own checksum: it was edited or "
                             "damaged after aekit wrote it; save the model again")
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f"{weights} is missing")
    if _sha256(weights) != config.get("weights_sha256"):
        raise ModelFileError(f"{weights} does not match the checksum in {CONFIG}: "
                             "the folder was truncated or edited; save the model again")
    return config


def _rebuild(folder: Path, config: dict):
    """The estimator a verified (and trusted) config describes, with its weights."""
    weights = folder / WEIGHTS
    cls = REGISTRY[config["estimator"]]
    params = dict(config["params"])
    fitted = config["fitted"]
    if isinstance(params.get("network"), dict):
        if params["network"] != fitted["model"]["network"]:
            raise ModelFileError(f"{folder / CONFIG}: the network of its parameters and of its fitted "
                                 "model differ; aekit writes them alike")
        params["network"] = CustomNetwork.from_dict(params["network"])
    estimator = cls(**params)
    check_params(cls.__name__, estimator.get_params(), cls._parameter_constraints)
    net_config = ModelConfig.from_dict(fitted["model"])
    _check_shapes(net_config, weights)
    net = AutoencoderNet(net_config)
    tensors = load_file(str(weights))
    broken = non_finite_tensor(tensors)
    if broken is not None:
        raise ModelFileError(f"{weights}: tensor {broken!r} holds NaN or infinite values; this model "
                             "cannot compute anything: train it again")
    net.load_state_dict(tensors)
    restore_fitted_state(estimator, fitted, net)
    return estimator


# Optional fitted attributes and their keys in the saved state.
_OPTIONAL_STATE = {"feature_names_in_": "feature_names", "classes_": "classes",
                   "class_prior_": "class_prior", "code_mean_": "code_mean", "code_cov_": "code_cov",
                   "training_data_sha256_": "training_data_sha256", "attribute_names_": "attribute_names",
                   "attribute_mean_": "attribute_mean", "attribute_scale_": "attribute_scale"}


def fitted_state(estimator) -> dict:
    """Everything a fit learned besides the weights, as JSON values (``config.json``'s
    ``"fitted"``); :func:`restore_fitted_state` is its inverse."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "model_")
    state = {"model": estimator.model_.config.to_dict(), "preprocessing": estimator.scaler_.to_dict(),
             "device": estimator.device_, "input_shape": list(estimator.input_shape_),
             "seed": int(estimator.seed_), "n_iter": int(estimator.n_iter_), "history": estimator.history_,
             "precision": estimator.precision_}
    for attr, key in _OPTIONAL_STATE.items():
        if hasattr(estimator, attr):
            state[key] = np.asarray(getattr(estimator, attr)).tolist()
    return state


def restore_fitted_state(estimator, state: dict, net: AutoencoderNet) -> None:
    """Set ``estimator``'s fitted attributes from ``state`` and the network ``net`` built from its
    config; raises ValueError on anything inconsistent (a damaged or edited state)."""
    estimator.input_shape_ = tuple(state["input_shape"])
    if estimator.sample_shape_ != net.config.sample_shape or net.config.bottleneck != estimator._bottleneck:
        raise ValueError("the input shape or bottleneck does not match the network's config")
    if net.config.latent_dim != estimator.latent_dim:
        raise ValueError(f"latent_dim {estimator.latent_dim} does not match the network's "
                         f"{net.config.latent_dim}")
    estimator.n_features_in_ = int(np.prod(estimator.input_shape_))
    estimator.scaler_ = Scaler.from_dict(state["preprocessing"], estimator.sample_shape_)
    estimator.seed_, estimator.n_iter_ = _count(state["seed"]), _count(state["n_iter"])
    estimator.history_ = state["history"]
    if not (isinstance(estimator.history_, dict) and state["precision"] in ("fp32", "bf16")):
        raise ValueError("history must be an object and precision fp32 or bf16")
    estimator.precision_ = state["precision"]
    if not isinstance(state["device"], str):
        raise ValueError("device must be a string")
    estimator.device_ = state["device"]  # where the fit ran; `device` says where this model runs
    if "feature_names" in state:
        names = state["feature_names"]
        if not (isinstance(names, list) and len(names) == estimator.n_features_in_
                and all(isinstance(n, str) for n in names)):
            raise ValueError(f"feature_names must be {estimator.n_features_in_} strings")
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    if "training_data_sha256" in state:  # absent from models saved before it was recorded
        digest = state["training_data_sha256"]
        if not (isinstance(digest, str) and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            raise ValueError("training_data_sha256 must be 64 hexadecimal digits")
        estimator.training_data_sha256_ = digest
    if net.config.n_attributes:
        names, a = state["attribute_names"], net.config.n_attributes
        if not (isinstance(names, list) and len(names) == a and all(isinstance(n, str) for n in names)):
            raise ValueError(f"attribute_names must be {a} strings")
        estimator.attribute_names_ = np.asarray(names, dtype=object)
        estimator.attribute_mean_ = _finite(state["attribute_mean"], (a,))
        estimator.attribute_scale_ = _finite(state["attribute_scale"], (a,))
    if estimator.is_conditional:
        estimator.classes_ = np.asarray(state["classes"])
        estimator.class_prior_ = _finite(state["class_prior"], (net.config.n_classes,))
        prior_sum = estimator.class_prior_.sum()
        if estimator.classes_.shape != (net.config.n_classes,) or abs(prior_sum - 1) > 1e-6:
            raise ValueError("classes and class_prior do not match the network")
    if not estimator.is_variational:
        k = estimator.latent_dim
        estimator.code_mean_ = _finite(state["code_mean"], (k,))
        estimator.code_cov_ = _finite(state["code_cov"], (k, k))
    estimator.model_ = net.eval()  # on the CPU: inference moves it to `device` when first used


def _count(value) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _finite(values, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape or not np.isfinite(array).all():
        raise ValueError(f"expected finite numbers of shape {shape}")
    return array


def code_references(config: dict) -> list:
    """Every field of a model config that can name code to import: the network of the
    parameters (what a later ``fit`` or ``sklearn.clone(...).fit`` builds) and the network of the
    fitted model (what loading builds). Trust is decided over all of them, in one place."""
    params = config.get("params")
    fitted = config.get("fitted")
    model = fitted.get("model") if isinstance(fitted, dict) else None
    found = [params.get("network") if isinstance(params, dict) else None,
             model.get("network") if isinstance(model, dict) else None]
    return [value for value in found if isinstance(value, dict)]


def _check_trusted(folder: Path, config: dict, trust_code: bool) -> None:
    """Refuse to import a custom network's module unless the caller trusts it: whichever field
    names it, and whether the import would come now or at a later fit."""
    named = code_references(config)
    if not named or trust_code:
        return
    modules = set()
    for network in named:
        try:
            modules.update(CustomNetwork.from_dict(network).modules)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModelFileError(f"{folder}: its custom network is not readable ({exc})") from exc
    raise UntrustedCodeError(
        f"{folder} was trained with its own networks, built by code in {', '.join(sorted(modules))}: "
        "loading it imports that code. If you trust it, pass trust_code=True (--trust-code)")


def _check_shapes(net_config: ModelConfig, weights: Path) -> None:
    """Compare every tensor the config implies with the weights file's header, before any
    memory is allocated: the network is built on the meta device, which holds shapes only."""
    with torch.device("meta"):
        expected = {k: (tuple(v.shape), v.dtype) for k, v in AutoencoderNet(net_config).state_dict().items()}
    with safe_open(str(weights), framework="pt") as f:
        stored = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    if set(stored) != set(expected):
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        raise ModelFileError(f"{weights} does not hold the tensors its config describes "
                             f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for key, (shape, dtype) in expected.items():
        needed = _SAFETENSORS_DTYPES.get(dtype, str(dtype))
        if stored[key] != (shape, needed):
            raise ModelFileError(f"{weights}: tensor {key!r} is {stored[key][1]} {stored[key][0]}, "
                                 f"its config needs {needed} {shape}")


_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.bfloat16: "BF16",
                       torch.float16: "F16", torch.int64: "I64"}
