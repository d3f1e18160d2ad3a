"""scikit-learn-style presets of the five-choice composition.

:class:`AutoEncoder`, :class:`DenoisingAutoEncoder`, :class:`VAE` and :class:`ConditionalVAE`
are flat siblings: each fixes the bottleneck and the conditioning, and exposes the parameters
that make sense for it; every behaviour lives in :class:`BaseAutoEncoder`. Hyper-parameters are
set in ``__init__`` only and checked once, against ``_parameter_constraints``, when ``fit``
starts; learned state ends in ``_`` and is described by the estimator itself
(``_fitted_state``), which is all ``persistence`` saves. ``fit`` returns ``self``: the presets
work in ``Pipeline`` and ``GridSearchCV``.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _params as P
from . import train
from ._device import resolve_device
from ._distributed import join
from ._memory import require_memory
from .data.datasets import is_hugging_face, rows_of
from .data.stream import RowSource, row_chunks
from .errors import InvalidInputError, UnsupportedOperationError
from .model import AutoencoderNet, ModelConfig, ObjectiveConfig
from .nn.corruption import KINDS as CORRUPTIONS
from .nn.corruption import MASK_MODES, CorruptionConfig
from .nn.custom import CustomNetwork
from .nn.layers import ACTIVATIONS
from .nn.likelihood import KINDS as LIKELIHOODS
from .nn.networks import KINDS as NETWORKS
from .persistence import register, save_model
from .preprocessing import METHODS as SCALERS
from .preprocessing import Scaler, summarize

MIN_TRAINING_SAMPLES = 2
# Dense widths between the network's features and the code when hidden_dims is None. "conv"
# gets 512: on Fashion-MNIST (k = 10) 12 epochs reached test SSE 8.48 against 9.30 with 256, for
# 13% more time, and 75 epochs (554 s) 7.89 where 256 needed 100 epochs (612 s) for 7.97
# (benchmarks/NOTES.md, "Wider dense layers"). The residual networks are unmeasured: 256.
DEFAULT_HIDDEN_DIMS = {"mlp": (256, 128), "conv": (512,)}


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device | None = None):
    """Run a block on torch's global RNGs (the CPU's and ``device``'s) seeded with ``seed``,
    leaving the caller's RNGs untouched."""
    accelerator = device is not None and device.type in ("cuda", "mps")
    devices = [device.index or 0] if accelerator else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if accelerator else "cuda"):
        torch.manual_seed(seed)
        yield


def _require_memory_for_weights(config: ModelConfig, device: torch.device) -> None:
    """Refuse, in one line, a model whose weights cannot fit in memory (a conv net's dense layer
    grows with the image's area: 30000x30000 images make ~460 billion weights), before any is
    allocated. Counted on the meta device, which allocates nothing. Weights are initialised on
    the CPU; training on the CPU also holds their gradients and Adam's two moments. A custom
    network is the user's own to size (and its factories may not run on the meta device)."""
    if isinstance(config.network, CustomNetwork):
        return
    with torch.device("meta"):
        n_weights = sum(p.numel() for p in AutoencoderNet(config).parameters())
    copies = 4 if device.type == "cpu" else 1
    require_memory(copies * n_weights * 4, f"a model of {n_weights:,} weights for samples of shape "
                   f"{'x'.join(map(str, config.sample_shape))}",
                   "use smaller images (resize them) or smaller hidden_dims")


@contextlib.contextmanager
def _deterministic(enabled: bool, device: torch.device):
    """Only deterministic kernels inside the block (when ``enabled``); the caller's setting after."""
    if not enabled:
        yield
        return
    if device.type == "cuda":
        # cuBLAS reads this when it first makes its workspace: set before the first matrix
        # product of the process (or in the environment) for it to take effect.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]


def _resident(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """``tensor`` on ``device`` when it takes at most half of the device's free memory (batches
    are then index slices there, with no copy per step); else left on the CPU."""
    if tensor is None or device.type == "cpu" or not isinstance(tensor, torch.Tensor):
        return tensor  # (rows read from disk stay there)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if tensor.numel() * tensor.element_size() > free // 2:
            return tensor
    return tensor.to(device)


def _check_finite(X) -> None:
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


def _pad_rows(batch: torch.Tensor | None, size: int) -> torch.Tensor | None:
    if batch is None or len(batch) == size:
        return batch
    return torch.cat([batch, batch.new_zeros((size - len(batch), *batch.shape[1:]))])


def _tensor(array):
    """A tensor sharing ``array``'s memory (a ``RowSource`` stays as it is: read by batches).
    Read-only arrays (memory-mapped files, some pandas views) are fine: aekit never writes to
    its inputs (preprocessing makes new tensors), so torch's warning about them does not apply."""
    if isinstance(array, RowSource):
        return array
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def _as_tensor(part) -> torch.Tensor:
    """A batch as a tensor (rows read from a RowSource come as arrays)."""
    return part if isinstance(part, torch.Tensor) else _tensor(part)


def _as_numpy(X):
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


# Constraints of the parameters every preset has; presets add those of the choices they expose.
_SHARED_CONSTRAINTS = {
    "latent_dim": [P.Int(1, 1 << 20)],
    "network": [P.OneOf(("auto", *NETWORKS)), P.Instance(CustomNetwork)],
    "hidden_dims": [None, P.Widths()],
    "activation": [P.OneOf(("auto", *ACTIVATIONS))],
    "likelihood": [P.OneOf(("auto", *LIKELIHOODS))],
    "sigma": [None, P.Float(0, low_open=True)],
    "scaler": [P.OneOf(SCALERS)],
    "epochs": [P.OneOf(("auto",)), P.Int(1)],
    "batch_size": [P.Int(1)],
    "learning_rate": [P.Float(0, low_open=True)],
    "lr_schedule": [P.OneOf(train.LR_SCHEDULES)],
    "validation_fraction": [P.Float(0, 1, high_open=True)],
    "patience": [None, P.Int(1)],
    "precision": [P.OneOf(train.PRECISIONS)],
    "random_state": [P.Seed()],
    "verbose": [P.Int(0), P.Bool()],
    "device": [P.Instance(str)],
    "deterministic": [P.Bool()],
    "compile": [P.Bool()],
}
_CORRUPTION_CONSTRAINTS = {
    "corruption": [P.OneOf(CORRUPTIONS)], "corruption_level": [P.Float(0)],
    "mask_mode": [P.OneOf(MASK_MODES)], "patch_size": [P.Int(1)],
}
_VARIATIONAL_CONSTRAINTS = {
    "beta": [P.Float(0)], "kl_warmup_epochs": [P.Int(0)], "free_bits": [P.Float(0)],
    "importance_samples": [P.Int(1, 4096)], "binarize": [P.Bool()],
}
# Which estimator parameter sets which field of a choice's config. A preset that does not
# expose a parameter gets the config's own default: each default is stated once.
_CORRUPTION_FIELDS = {"corruption": "kind", "corruption_level": "level", "mask_mode": "mask_mode",
                      "patch_size": "patch_size"}
_OBJECTIVE_FIELDS = {"beta": "beta", "kl_warmup_epochs": "kl_warmup_epochs", "free_bits": "free_bits",
                     "importance_samples": "importance_samples"}


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Behaviour shared by every preset; use a preset, not this class."""

    _bottleneck = "deterministic"
    _conditional = False
    _parameter_constraints: dict = _SHARED_CONSTRAINTS
    # The importance samples behind score_samples for stochastic models: enough to tighten
    # the bound well beyond one-sample ELBO noise, few enough to score large sets quickly.
    _score_k = 16

    # ------------------------------------------------------------------ what the model is
    @property
    def is_variational(self) -> bool:
        """True when the code is a Gaussian q(z|x) with a N(0, I) prior (a VAE)."""
        return self._bottleneck == "gaussian"

    @property
    def is_conditional(self) -> bool:
        """True when the decoder takes a class label (methods that decode take ``y``)."""
        return self._conditional

    @property
    def sample_shape_(self) -> tuple[int, ...]:
        """One sample's shape as the networks see it: ``(H, W)`` images get a channel axis;
        ``(channels, time)`` windows of a temporal network stay as they are."""
        check_is_fitted(self, "input_shape_")
        shape = self.input_shape_
        return (1, *shape) if len(shape) == 2 and self.network != "temporal" else shape

    @property
    def is_image_(self) -> bool:
        """True when samples have a height and a width."""
        return len(self.sample_shape_) == 3

    @property
    def likelihood_(self) -> str:
        """The likelihood a fit resolved ``"auto"`` to."""
        check_is_fitted(self, "model_")
        return self.model_.config.likelihood

    @property
    def corruption_(self) -> CorruptionConfig:
        """The corruption the model was trained with."""
        check_is_fitted(self, "model_")
        return self.model_.config.corruption

    # ------------------------------------------------------------------ validation
    def _validate_X(self, X, reset: bool) -> np.ndarray:
        """Check X once at the boundary; return it as (n, *sample_shape), uint8 or float32."""
        if isinstance(X, torch.utils.data.Dataset) or is_hugging_face(X):
            X = rows_of(X)
        if isinstance(X, RowSource):
            return self._validate_rows(X, reset)
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
                X = validate_data(self, X, reset=reset, **kinds)
            else:
                X = check_array(X, allow_nd=True, **kinds)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{exc} (X must be numeric, finite and non-empty: "
                                    "(n, features) vectors or (n, H, W) / (n, C, H, W) images)") from exc
        if X.ndim > 4:
            raise InvalidInputError(f"X has {X.ndim} dimensions; expected (n, features), "
                                    "(n, H, W) or (n, C, H, W)")
        _check_finite(X)
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
            if X.ndim > 2:
                self.n_features_in_ = math.prod(self.input_shape_)
        elif tuple(X.shape[1:]) != self.input_shape_:
            raise InvalidInputError(
                f"X has samples of shape {tuple(X.shape[1:])}, but this {type(self).__name__} "
                f"was fitted on samples of shape {self.input_shape_}")
        if X.dtype == np.float64:
            X = X.astype(np.float32)
        # Views such as X[::-1] have negative strides, which torch cannot wrap.
        return np.ascontiguousarray(X).reshape(len(X), *self.sample_shape_)

    def _validate_rows(self, X: RowSource, reset: bool) -> RowSource:
        """The checks of ``_validate_X`` for rows read on demand (aekit.data.stream)."""
        if len(X) == 0 or X.ndim > 4:
            raise InvalidInputError(f"{X.name}: {X.shape} is not (n, features), (n, H, W) or (n, C, H, W) "
                                    "with n > 0")
        _check_finite(X)
        if reset:
            self.input_shape_ = X.sample_shape
            self.n_features_in_ = math.prod(self.input_shape_)
            if X.feature_names is not None:
                self.feature_names_in_ = np.asarray(X.feature_names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.sample_shape != self.input_shape_:
            raise InvalidInputError(
                f"{X.name} has samples of shape {X.sample_shape}, but this {type(self).__name__} "
                f"was fitted on samples of shape {self.input_shape_}")
        return X.with_sample_shape(self.sample_shape_)

    def _validate_y(self, y, n: int, reset: bool) -> torch.Tensor | None:
        if not self._conditional:
            return None
        if y is None:
            raise InvalidInputError(f"{type(self).__name__} requires y to be passed, but the target "
                                    "y is None: pass the class labels")
        y = np.asarray(_as_numpy(y))
        if y.ndim == 0:
            y = np.full(n, y.item())
        if y.shape != (n,):
            raise InvalidInputError(f"y must have one label per sample: shape ({n},), got {y.shape}")
        if reset:
            self.classes_, counts = np.unique(y, return_counts=True)
            self.class_prior_ = counts / counts.sum()
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise InvalidInputError(f"labels {unknown[:5].tolist()} were not seen in fit; "
                                    f"known classes: {self.classes_[:10].tolist()}")
        return torch.from_numpy(np.searchsorted(self.classes_, y)).long()

    # ------------------------------------------------------------------ building
    def _model_config(self, is_image: bool, binary: bool) -> ModelConfig:
        network = self.network
        if network == "auto":
            network = "conv" if is_image else "mlp"
        activation = self.activation
        if activation == "auto":  # (a custom network ignores it too)
            activation = "silu" if network == "conv" else "relu"
        hidden = self.hidden_dims
        if hidden is None:  # (a custom network ignores it)
            hidden = DEFAULT_HIDDEN_DIMS.get(network, (256,)) if isinstance(network, str) else (256,)
        scaled_to_unit = self.scaler_.method == "minmax"
        likelihood = self.likelihood
        binarize = self._binarize()
        if binarize and (not scaled_to_unit or likelihood not in ("auto", "bernoulli")):
            raise InvalidInputError("binarize=True draws binary images from [0, 1] intensities: it "
                                    "needs scaler 'minmax' (or 'auto' for images) and a Bernoulli "
                                    "likelihood")
        if likelihood == "auto":
            likelihood = "bernoulli" if scaled_to_unit and (binary or binarize) else "gaussian"
        elif likelihood == "bernoulli" and not scaled_to_unit:
            raise InvalidInputError("likelihood='bernoulli' needs data scaled to [0, 1]: "
                                    "use scaler='minmax' (or 'auto' for images)")
        # A tenth of the data's scale (the [0, 1] range, or one standard deviation). Measured: on
        # digits, sigma = 0.1 kept a VAE's codes informative where Bernoulli blurred them; on
        # standardised tables sigma = 1 let the KL collapse code dimensions (planted-anomaly
        # AUROC 0.83 against 0.999 with 0.1; benchmarks/vae_sigma.py).
        sigma = 0.1 if self.sigma is None else self.sigma
        return ModelConfig(
            sample_shape=self.sample_shape_, latent_dim=self.latent_dim, network=network,
            hidden_dims=tuple(hidden), activation=activation, bottleneck=self._bottleneck,
            likelihood=likelihood, sigma=sigma,
            n_classes=len(self.classes_) if self._conditional else 0,
            corruption=CorruptionConfig(**self._fields(_CORRUPTION_FIELDS)),
            objective=ObjectiveConfig(**self._fields(_OBJECTIVE_FIELDS)))

    def _fields(self, mapping: dict[str, str]) -> dict:
        """A choice config's fields set by this preset's parameters (see _CORRUPTION_FIELDS)."""
        params = self.get_params()
        return {field: params[name] for name, field in mapping.items() if name in params}

    def _binarize(self) -> bool:
        return bool(self.get_params().get("binarize", False))

    def _train_config(self, seed: int) -> train.TrainConfig:
        return train.TrainConfig(
            # "auto": 50 epochs, more for small data (train.planned_epochs)
            epochs=train.AUTO_EPOCHS if self.epochs == "auto" else self.epochs,
            min_steps=train.auto_min_steps(self.sample_shape_) if self.epochs == "auto" else 0,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            lr_schedule=self.lr_schedule, validation_fraction=self.validation_fraction,
            patience=self.patience, precision=self.precision, random_state=seed,
            verbose=int(self.verbose), binarize=self._binarize(), compile=self.compile)

    def _check_params(self) -> None:
        """Check every hyper-parameter against ``_parameter_constraints`` (once, in fit)."""
        P.check_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, checkpoint_path=None, resume: bool = False, callbacks=()):
        """Train on ``X`` (and labels ``y`` for a conditional model).

        ``X``: an array (vectors or images), a table, or data read a batch at a time: any
        ``aekit.data.stream.RowSource`` (what ``aekit.data.load(source, stream=True)`` returns
        as ``X``), a torch ``Dataset`` or ``IterableDataset``, or a Hugging Face
        ``datasets.Dataset`` (their labels are used when they yield ``(sample, label)`` pairs or
        have a label column and ``y`` is not given); these train the same weights as the same
        data in memory (docs/data.md).

        With ``checkpoint_path``, a checkpoint is written atomically after every epoch, and
        ``resume=True`` continues a killed run from it, ending with the same weights. The path
        is an argument of this call, not a hyper-parameter: it is never saved with the model,
        cloned or shared between the fits of a grid search. ``callbacks``: objects whose
        ``on_epoch_end(report)`` is called after each epoch (``aekit.callbacks``).

        Under torchrun, every process calls ``fit`` with the same data; they train one model
        together (DistributedDataParallel) and end with the same weights. Only process 0
        writes the checkpoint and calls the callbacks.
        """
        self._check_params()
        X = self._validate_X(X, reset=True)
        if len(X) < MIN_TRAINING_SAMPLES:
            raise InvalidInputError(f"X has 1 sample; an autoencoder needs at least "
                                    f"{MIN_TRAINING_SAMPLES} samples to train")
        if y is None and self.is_conditional and getattr(X, "has_labels", False):
            y = X.labels()  # a torch Dataset of (sample, label) pairs
        y_idx = self._validate_y(y, len(X), reset=True)
        is_image, summary = X.ndim == 4, summarize(X)
        binary = summary.binary
        self.scaler_ = Scaler.fit(summary, X.dtype, self.scaler, is_image)
        device = resolve_device(self.device)
        group = join(device)
        data = _tensor(X)
        group.check_same_data(data, y_idx)
        try:
            model_config = self._model_config(is_image, binary)
            # An unseeded fit draws its seed on process 0: every process must train with it.
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            seed = group.same_everywhere(seed)
            train_config = self._train_config(seed)
        except ValueError as exc:  # a parameter out of range: say which, in our error type
            raise InvalidInputError(str(exc)) from exc
        self.seed_ = train_config.random_state
        _require_memory_for_weights(model_config, device)
        with _seeded(self.seed_, device), _deterministic(self.deterministic, device):
            # Initialised on the CPU, then moved: one seed gives the same initial weights anywhere.
            self.model_ = AutoencoderNet(model_config).to(device)
            state = train.fit(self.model_, _resident(data, device), _resident(y_idx, device),
                              self.scaler_.transform, train_config, checkpoint_path=checkpoint_path,
                              resume=resume, group=group, callbacks=callbacks)
        self.n_processes_ = group.size
        self.device_ = str(device)
        self.history_ = state.history
        self.n_iter_ = state.epoch
        self.precision_ = state.precision
        if not self.is_variational:
            self._fit_code_distribution(data)
        return self

    def fine_tune(self, X, y=None, *, steps: int = 200, learning_rate: float | None = None, callbacks=()):
        """Train the fitted model further on ``X``, from its current weights; returns ``self``.

        For a model that must follow data that change slowly (``StreamDetector``'s continual
        learning): at least ``steps`` optimisation steps, in whole passes over ``X``. Everything
        else stays as the fit set it, the preprocessing included, so codes and scores keep their
        units. The learning rate starts at ``learning_rate`` (default: a tenth of the model's,
        a nudge rather than a new training) and decays as ``fit``'s does; the weights kept are
        those with the best validation loss, without early stopping. The randomness is seeded
        from the fit's seed and the epochs trained so far: the same calls give the same weights.
        ``callbacks``: as ``fit``'s; one that raises stops the fine-tuning there, its exception
        propagating and the weights left part-tuned.
        """
        check_is_fitted(self, "model_")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidInputError(f"steps must be an integer >= 1, got {steps!r}")
        if learning_rate is not None and not learning_rate > 0:
            raise InvalidInputError(f"learning_rate must be > 0, got {learning_rate!r}")
        X = self._validate_X(X, reset=False)
        if len(X) < MIN_TRAINING_SAMPLES:
            raise InvalidInputError(f"X has {len(X)} sample(s); fine-tuning needs at least "
                                    f"{MIN_TRAINING_SAMPLES}")
        y_idx = self._validate_y(y, len(X), reset=False)
        device = self._device()
        data = _tensor(X)
        seed = (int(self.seed_) + int(self.n_iter_)) % np.iinfo(np.int32).max
        base = self._train_config(seed)
        config = train.TrainConfig(
            epochs=1, min_steps=steps, batch_size=base.batch_size,
            learning_rate=self.learning_rate / 10 if learning_rate is None else float(learning_rate),
            lr_schedule=base.lr_schedule, validation_fraction=base.validation_fraction, patience=None,
            precision=self.precision_, random_state=seed, verbose=base.verbose, binarize=base.binarize)
        with _seeded(seed, device), _deterministic(self.deterministic, device):
            state = train.fit(self.model_, _resident(data, device), _resident(y_idx, device),
                              self.scaler_.transform, config, callbacks=callbacks)
        self.n_iter_ += state.epoch
        self.history_ = {key: list(self.history_.get(key, [])) + list(values)
                         for key, values in state.history.items()}
        if not self.is_variational:
            self._fit_code_distribution(data)
        return self

    # ------------------------------------------------------------------ fitted state
    # Optional fitted attributes and their keys in the saved state.
    _OPTIONAL_STATE = {"feature_names_in_": "feature_names", "classes_": "classes",
                       "class_prior_": "class_prior", "code_mean_": "code_mean", "code_cov_": "code_cov"}

    def _fitted_state(self) -> dict:
        """Everything a fit learned besides the weights, as JSON values (what a model folder
        stores); ``_restore_fitted_state`` is its inverse."""
        check_is_fitted(self, "model_")
        state = {"model": self.model_.config.to_dict(), "preprocessing": self.scaler_.to_dict(),
                 "device": self.device_, "input_shape": list(self.input_shape_), "seed": int(self.seed_),
                 "n_iter": int(self.n_iter_), "history": self.history_, "precision": self.precision_}
        for attr, key in self._OPTIONAL_STATE.items():
            if hasattr(self, attr):
                state[key] = np.asarray(getattr(self, attr)).tolist()
        return state

    def _restore_fitted_state(self, state: dict, net: AutoencoderNet) -> None:
        """Set the fitted attributes from ``state`` and the network ``net`` built from its
        config; raises ValueError on anything inconsistent (a damaged or edited state)."""
        self.input_shape_ = tuple(state["input_shape"])
        if self.sample_shape_ != net.config.sample_shape or net.config.bottleneck != self._bottleneck:
            raise ValueError("the input shape or bottleneck does not match the network's config")
        if net.config.latent_dim != self.latent_dim:
            raise ValueError(f"latent_dim {self.latent_dim} does not match the network's "
                             f"{net.config.latent_dim}")
        self.n_features_in_ = math.prod(self.input_shape_)
        self.scaler_ = Scaler.from_dict(state["preprocessing"], self.sample_shape_)
        self.seed_, self.n_iter_ = _int(state["seed"]), _int(state["n_iter"])
        self.history_ = state["history"]
        if not (isinstance(self.history_, dict) and state["precision"] in ("fp32", "bf16")):
            raise ValueError("history must be an object and precision fp32 or bf16")
        self.precision_ = state["precision"]
        if not isinstance(state["device"], str):
            raise ValueError("device must be a string")
        self.device_ = state["device"]  # where the fit ran; `device` says where this model runs
        if "feature_names" in state:
            names = state["feature_names"]
            if not (isinstance(names, list) and len(names) == self.n_features_in_
                    and all(isinstance(n, str) for n in names)):
                raise ValueError(f"feature_names must be {self.n_features_in_} strings")
            self.feature_names_in_ = np.asarray(names, dtype=object)
        if self._conditional:
            self.classes_ = np.asarray(state["classes"])
            self.class_prior_ = _finite(state["class_prior"], (net.config.n_classes,))
            if self.classes_.shape != (net.config.n_classes,) or abs(self.class_prior_.sum() - 1) > 1e-6:
                raise ValueError("classes and class_prior do not match the network")
        if not self.is_variational:
            k = self.latent_dim
            self.code_mean_ = _finite(state["code_mean"], (k,))
            self.code_cov_ = _finite(state["code_cov"], (k, k))
        self.model_ = net.eval()  # on the CPU: inference moves it to `device` when first used

    def _fit_code_distribution(self, data):
        """A Gaussian over the training codes: what ``sample`` draws from when there is no prior.

        Accumulated a batch at a time (Chan et al.'s pairwise update of the mean and the
        centred cross-products): the codes of a large data set are never held together."""
        k = self.latent_dim
        n, mean, cross = 0, np.zeros(k), np.zeros((k, k))
        for codes in self._encode_mean_batches(data):
            codes = codes.astype(np.float64)
            m, batch_mean = len(codes), codes.mean(axis=0)
            centred = codes - batch_mean
            delta = batch_mean - mean
            cross += centred.T @ centred + np.outer(delta, delta) * (n * m / (n + m))
            mean += delta * (m / (n + m))
            n += m
        self.code_mean_ = mean
        cov = cross / (n - 1) if n > 1 else np.zeros((k, k))
        self.code_cov_ = cov + 1e-6 * np.eye(k)  # a floor keeps collapsed directions samplable

    # ------------------------------------------------------------------ inference helpers
    def _batches(self, *tensors, k: int = 1):
        """Yield (n_real, batch, ...) over aligned tensors (None passes through), every batch
        padded with zeros to one fixed size.

        Matrix-product kernels round differently for different row counts; with one shape for
        every batch, an input's code or score is bit-identical whatever else is in the call.
        """
        device = self._device()
        size = self.__dict__.get("_inference_rows") or self.model_.inference_batch_size(k)
        for start in range(0, len(tensors[0]), size):
            parts = [None if t is None else _as_tensor(t[start:start + size]) for t in tensors]
            yield (len(parts[0]), *[None if p is None else _pad_rows(p, size).to(device, non_blocking=True)
                                    for p in parts])

    @contextlib.contextmanager
    def _small_batches(self, rows: int):
        """Evaluate in padded batches of ``rows`` inputs instead of the throughput-sized ones:
        for callers that score a few inputs at a time (a live stream), where padding each call
        to thousands of rows would cost more than the work. Results stay bit-identical across
        calls made inside, not with calls outside."""
        previous = self.__dict__.get("_inference_rows")
        self._inference_rows = rows
        try:
            yield
        finally:
            if previous is None:
                del self._inference_rows
            else:
                self._inference_rows = previous

    def _device(self) -> torch.device:
        """Resolve ``device`` and put the network there (a loaded model starts on the CPU; the
        parameter may also have been changed since the fit)."""
        device = resolve_device(self.device)
        if next(self.model_.parameters()).device != device:
            self.model_.to(device)
        return device

    def _encode_means(self, data: torch.Tensor) -> np.ndarray:
        return np.concatenate(list(self._encode_mean_batches(data)))

    def _encode_mean_batches(self, data):
        """The latent means of ``data``, one inference batch at a time."""
        for n, xb in self._batches(data):
            with torch.inference_mode():  # (left before yielding: the caller's code runs as usual)
                codes = self.model_.encode(self.scaler_.transform(xb), sample=False).mean[:n].cpu().numpy()
            yield codes

    @torch.inference_mode()
    def _decode_means(self, Z: torch.Tensor, y_idx) -> np.ndarray:
        out = []
        for n, zb, yb in self._batches(Z, y_idx):
            params = self.model_.decode(zb, yb)[:n]
            out.append(self.scaler_.inverse(self.model_.likelihood.mean(params)))
        return self._to_input_shape(torch.cat(out))

    def _to_input_shape(self, x: torch.Tensor) -> np.ndarray:
        return x.cpu().reshape(len(x), *self.input_shape_).numpy()

    def _prepare(self, X, y, labels_optional: bool = False):
        """Validated data and label indices; ``labels_optional`` lets a conditional model's
        density methods marginalise over classes instead of requiring y."""
        check_is_fitted(self, "model_")
        X = self._validate_X(X, reset=False)
        if labels_optional and y is None:
            return _tensor(X), None
        return _tensor(X), self._validate_y(y, len(X), reset=False)

    # ------------------------------------------------------------------ the public methods
    def transform(self, X, y=None):
        """Latent means, shape ``(n, latent_dim)``: the features to cluster, classify or plot."""
        check_is_fitted(self, "model_")
        return self._encode_means(_tensor(self._validate_X(X, reset=False)))

    def inverse_transform(self, Z, y=None):
        """Decode codes ``Z`` (n, latent_dim) to data in the input's units and shape."""
        check_is_fitted(self, "model_")
        try:
            Z = check_array(_as_numpy(Z), dtype=np.float32)
        except ValueError as exc:
            raise InvalidInputError(f"Z: {exc}") from exc
        if Z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"Z must have {self.latent_dim} columns (latent_dim), got {Z.shape[1]}")
        return self._decode_means(_tensor(Z), self._validate_y(y, len(Z), reset=False))

    def reconstruct(self, X, y=None):
        """Decode each input's latent mean: the model's reconstruction, in the input's units."""
        data, y_idx = self._prepare(X, y)
        return self._decode_means(torch.from_numpy(self._encode_means(data)), y_idx)

    def sample(self, n_samples: int = 1, y=None, random_state=None, from_likelihood: bool = False):
        """Draw new data: codes from the prior N(0, I) (a Gaussian fitted to the training codes
        for deterministic models), decoded to the likelihood's mean or, with
        ``from_likelihood=True``, to a draw from p(x|z). For a conditional model, ``y`` picks the
        classes (one label or one per sample); by default the classes take turns."""
        check_is_fitted(self, "model_")
        if not P.Int(1).accepts(n_samples):
            raise InvalidInputError(f"n_samples must be a positive integer, got {n_samples!r}")
        require_memory(3 * int(n_samples) * self.n_features_in_ * 4,
                       f"{n_samples:,} samples of shape {self.input_shape_}", "draw fewer at a time")
        if self._conditional and y is None:
            y = np.resize(self.classes_, n_samples)
        y_idx = self._validate_y(y, n_samples, reset=False)
        rng = check_random_state(random_state)
        if self.is_variational:
            Z = rng.standard_normal((n_samples, self.latent_dim))
        else:
            Z = rng.multivariate_normal(self.code_mean_, self.code_cov_, size=n_samples)
        Z = torch.from_numpy(Z.astype(np.float32))
        if not from_likelihood:
            return self._decode_means(Z, y_idx)
        device = self._device()
        with _seeded(int(rng.randint(np.iinfo(np.int32).max)), device), torch.inference_mode():
            params = self.model_.decode(Z.to(device), None if y_idx is None else y_idx.to(device))
            return self._to_input_shape(self.scaler_.inverse(self.model_.likelihood.sample(params)))

    @torch.inference_mode()
    def _bound(self, data, y_idx, k: int, draws: int = 1) -> np.ndarray:
        """Per-sample ELBO (k = 1) or importance-sampled bound (k > 1) in preprocessed units,
        averaged over ``draws`` independent draws.

        The noise is seeded and shared by all inputs of a draw (common random numbers), so an
        input's score does not depend on the order or company it is scored in. A conditional
        model given no labels returns log sum_c p(c) p(x|c), the bound on log p(x).
        """
        if self._conditional and y_idx is None:
            per_class = [self._bound(data, torch.full((len(data),), c), k, draws)
                         for c in range(len(self.classes_))]
            return logsumexp(np.log(self.class_prior_)[:, None] + np.stack(per_class), axis=0)
        total = torch.zeros(len(data), dtype=torch.float64)
        noise = torch.Generator().manual_seed(self.seed_)
        device = self._device()
        for _ in range(draws):
            eps = None
            if self.is_variational:  # drawn on the CPU: the same noise on every device
                eps = torch.randn(k, 1, self.latent_dim, generator=noise).to(device)
            start = 0
            for n, xb, yb in self._batches(data, y_idx, k=k):
                bound = self.model_(self.scaler_.transform(xb), yb, k=k, eps=eps).bound[:n]
                total[start:start + n] += bound.cpu().double()
                start += n
        return (total / draws).numpy()

    def score_samples(self, X, y=None):
        """Per-sample score, higher = more normal (as scikit-learn's outlier detectors).

        The log-likelihood of the reconstruction under the model's likelihood for deterministic
        models; the importance-sampled log p(x) (k = 16) for variational ones. In the
        preprocessed data's units, so scores compare across inputs of one model.
        """
        data, y_idx = self._prepare(X, y, labels_optional=True)
        return self._bound(data, y_idx, self._score_k if self.is_variational else 1)

    @torch.inference_mode()
    def reconstruction_error(self, X, y=None, per_dim: bool = False) -> np.ndarray:
        """-log p(x | z = the code's mean) under the model's likelihood, in preprocessed units.

        Per sample, or with ``per_dim=True`` per data dimension in the input's shape (a heat map
        of where an image is reconstructed badly).
        """
        data, y_idx = self._prepare(X, y)
        out = []
        for n, xb, yb in self._batches(data, y_idx):
            xb = self.scaler_.transform(xb)
            params = self.model_.decode(self.model_.encode(xb, sample=False).mean, yb)
            nll = self.model_.likelihood.nll_per_dim(params.unsqueeze(0), xb)[0][:n]
            out.append(nll if per_dim else nll.flatten(1).sum(1))
        errors = torch.cat(out).cpu().double()
        return errors.reshape(len(errors), *self.input_shape_).numpy() if per_dim else errors.numpy()

    def anomaly_score(self, X, y=None):
        """Per-sample anomaly score, higher = more anomalous: ``-score_samples``."""
        return -self.score_samples(X, y)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`, so that ``GridSearchCV`` can compare settings."""
        return float(np.mean(self.score_samples(X, y)))

    def elbo(self, X, y=None, n_draws: int = 16):
        """Per-sample evidence lower bound, averaged over ``n_draws`` codes from q(z|x)."""
        self._require_stochastic("elbo")
        data, y_idx = self._prepare(X, y, labels_optional=True)
        return self._bound(data, y_idx, 1, draws=n_draws)

    def log_likelihood(self, X, y=None, k: int = 1000):
        """Importance-sampled log p(x) (nats, preprocessed units) with ``k`` samples from q(z|x).

        log p(x) ~ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x); a lower bound that tightens as k
        grows (Burda et al. 2016). Computed in batches so large k fits in memory.
        """
        self._require_stochastic("log_likelihood")
        if not P.Int(1).accepts(k):
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        # One input's k codes and k decodings are computed at once: bound that before starting.
        n_params = 2 if self.likelihood_ == "gaussian_learned" else 1
        per_code = self.latent_dim * 4 + self.n_features_in_ * n_params
        require_memory(3 * int(k) * per_code * 4, f"k={k:,} importance samples per input", "use a smaller k")
        data, y_idx = self._prepare(X, y, labels_optional=True)
        return self._bound(data, y_idx, int(k))

    def _require_stochastic(self, what: str):
        check_is_fitted(self, "model_")
        if not self.is_variational:
            raise UnsupportedOperationError(
                f"{what} needs a probabilistic code: {type(self).__name__} has a deterministic "
                "bottleneck. Use aekit.VAE, or score_samples for a reconstruction likelihood.")

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the model folder ``path`` (config.json + model.safetensors), atomically.

        ``path`` may be new, an empty folder, or a model folder aekit wrote (which is replaced
        as a whole); anything else is refused with :class:`aekit.OutputError`, never deleted.
        """
        save_model(self, path)

    @property
    def _n_features_out(self):
        return self.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.target_tags.required = self._conditional
        tags.input_tags.allow_nan = False
        return tags


def _int(value) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _finite(values, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape or not np.isfinite(array).all():
        raise ValueError(f"expected finite numbers of shape {shape}")
    return array


_COMMON_DOC = """
    Parameters
    ----------
    latent_dim : int, default=8
        Size of the code.
    network : {"auto", "mlp", "conv", "resnet", "temporal"} or aekit.nn.custom.CustomNetwork, default="auto"
        Encoder/decoder family (docs/networks.md): "conv" (stride-2 convolutions), "resnet"
        (residual blocks with GroupNorm; slower on a CPU), "temporal" (1-D residual
        convolutions over time-series windows, (time,) or (channels, time) samples).
        "auto" picks "conv" for images and "mlp" for vectors (``aekit train --window`` picks
        "temporal"). A
        ``CustomNetwork(encoder, decoder, **options)`` builds your own modules from factories
        saved by import path (loading such a model needs ``trust_code=True``; docs/networks.md).
    hidden_dims : tuple of int or None, default=None
        Widths of the dense layers between input and code (the decoder mirrors them). None
        picks (256, 128) for an MLP, (512,) after the "conv" network's convolutions and
        (256,) after the residual ones. () with
        ``activation="linear"`` makes a linear autoencoder.
    activation : {"auto", "relu", "gelu", "silu", "tanh", "leaky_relu", "linear"}, default="auto"
        "auto" is SiLU for the ``"conv"`` network and ReLU for the others: on Fashion-MNIST
        (k = 10) the conv autoencoder (dense width 256) reached a test SSE of 8.36 in 26 epochs
        with SiLU, where ReLU needed 80 epochs for 8.62 (benchmarks/NOTES.md, "SiLU for the conv
        network").
    likelihood : {"auto", "bernoulli", "gaussian", "gaussian_learned"}, default="auto"
        How reconstructions are judged. "auto": Bernoulli for binary data (two values),
        else a Gaussian with fixed standard deviation ``sigma``.
    sigma : float or None, default=None
        Standard deviation of the fixed-variance Gaussian likelihood, in preprocessed units.
        None: 0.1, a tenth of the data's scale (the [0, 1] range of images, one standard
        deviation of standardised features). Smaller values weigh reconstruction more against
        the KL term of a VAE.
    scaler : {"auto", "minmax", "standard", "none"}, default="auto"
        Preprocessing stored in the model: "auto" scales images, uint8 and binary data to [0, 1]
        and standardises other vectors per feature.
    epochs : int or "auto", default="auto"
        The most passes over the training data (early stopping may end sooner). "auto": 50,
        or as many as make 2,000 optimisation steps when 50 make fewer (small data sets:
        500 images are 4 batches), 1,000 for table rows (flat vectors), with ``patience``
        stretched in proportion (benchmarks/training_budget.py, tabular_budget.py).
    batch_size, learning_rate : batch size and Adam's step size.
    lr_schedule : {"cosine", "constant"}, default="cosine"
    validation_fraction : float, default=0.1
        Held out for early stopping; the weights with the best validation loss are kept.
    patience : int or None, default=10
        Epochs without validation improvement before stopping (stretched with "auto" epochs);
        None trains all epochs.
    precision : {"auto", "fp32", "bf16"}, default="auto"
        bf16 autocast for training where it was measured faster on CPU (docs/benchmarks.md).
    random_state : int, RandomState or None, default=None
        The same int gives identical weights on CPU.
    verbose : int, default=1
        1 shows a progress bar (on terminals only); 0 is silent.
    device : str, default="auto"
        Where to train and run: "auto" (the first CUDA GPU, else Apple's MPS, else the CPU), or a
        torch device such as "cpu", "cuda:1" or "mps". A saved model is device-free: it loads
        anywhere and runs on its ``device`` (``set_params(device=...)`` moves it). ``device_``
        records where the fit ran. Under torchrun, ``fit`` trains with DistributedDataParallel,
        each process on its share of every batch (docs/gpus.md).
    deterministic : bool, default=False
        Use only deterministic kernels (``torch.use_deterministic_algorithms``), so that a seed
        gives the same weights on a GPU too, at some cost in speed. CPU training is
        deterministic either way.
    compile : bool, default=False
        ``torch.compile`` the encoder and decoder before training (a compile costs tens of
        seconds; see docs/gpus.md for where it pays).
"""
_CORRUPTION_DOC = """
    corruption : {"gaussian", "salt_pepper", "mask", "greyscale", "none"}
        What the encoder sees in training: Gaussian noise, flipped entries, masked entries
        (zeroed after preprocessing) or greyscale (for colourisation).
    corruption_level : float
        Noise standard deviation (gaussian, preprocessed units), or the fraction of entries
        flipped (salt_pepper) or masked (mask).
    mask_mode : {"pixels", "patches", "features"}, default="pixels"
    patch_size : int, default=4
        Side of the square patches masked when ``mask_mode="patches"``.
"""
_VARIATIONAL_DOC = """
    beta : float, default=1.0
        Weight of the KL term (beta-VAE: > 1 for more disentangled codes).
    kl_warmup_epochs : int, default=0
        Epochs over which the KL weight ramps from 0 to ``beta``.
    free_bits : float, default=0.0
        Nats per latent dimension below which the KL is not penalised.
    importance_samples : int, default=1
        Codes drawn per input in training (k); k > 1 trains on the tighter IWAE bound.
    binarize : bool, default=False
        Dynamic binarisation: train on a fresh Bernoulli draw of each batch (pixel intensity =
        probability of a 1), with a Bernoulli likelihood; the standard protocol for likelihoods
        of grey-level digits and clothes. Validation uses the intensities themselves, whose
        Bernoulli cross-entropy is the expected loss over binarisations. Score binarised data.
"""


@register
class AutoEncoder(BaseAutoEncoder):
    __doc__ = """A classic autoencoder: deterministic code, trained to reconstruct its input.
    """ + _COMMON_DOC + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    >>> ae = aekit.AutoEncoder(latent_dim=2, epochs=5, verbose=0, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (200, 2)
    >>> ae.reconstruct(X).shape
    (200, 6)
    """

    def __init__(self, latent_dim=8, *, network="auto", hidden_dims=None, activation="auto",
                 likelihood="auto", sigma=None, scaler="auto", epochs="auto", batch_size=128,
                 learning_rate=1e-3, lr_schedule="cosine", validation_fraction=0.1, patience=10,
                 precision="auto", random_state=None, verbose=1, device="auto", deterministic=False,
                 compile=False):
        self.latent_dim = latent_dim
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


@register
class DenoisingAutoEncoder(BaseAutoEncoder):
    __doc__ = """An autoencoder that sees a corrupted input and is rewarded for the clean one.
    """ + _COMMON_DOC + _CORRUPTION_DOC.replace("corruption : {", "corruption : default=\"gaussian\", {")\
        .replace("corruption_level : float", "corruption_level : float, default=0.3") + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).random((100, 1, 8, 8)).astype("float32")
    >>> dae = aekit.DenoisingAutoEncoder(latent_dim=4, epochs=2, verbose=0).fit(X)
    >>> dae.reconstruct(X).shape
    (100, 1, 8, 8)
    """

    _parameter_constraints = {**_SHARED_CONSTRAINTS, **_CORRUPTION_CONSTRAINTS}

    def __init__(self, latent_dim=8, *, corruption="gaussian", corruption_level=0.3,
                 mask_mode="pixels", patch_size=4, network="auto", hidden_dims=None,
                 activation="auto", likelihood="auto", sigma=None, scaler="auto", epochs="auto",
                 batch_size=128, learning_rate=1e-3, lr_schedule="cosine",
                 validation_fraction=0.1, patience=10, precision="auto", random_state=None,
                 verbose=1, device="auto", deterministic=False,
                 compile=False):
        self.latent_dim = latent_dim
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.mask_mode = mask_mode
        self.patch_size = patch_size
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


@register
class VAE(BaseAutoEncoder):
    __doc__ = """A variational autoencoder: q(z|x) is a diagonal Gaussian, the prior N(0, I).

    Trains on the ELBO (or, with ``importance_samples > 1``, the tighter IWAE bound);
    ``sample`` draws from the prior, ``log_likelihood`` estimates log p(x) by importance sampling.
    """ + _COMMON_DOC + _VARIATIONAL_DOC + _CORRUPTION_DOC.replace(
        "corruption : {", "corruption : default=\"none\", {").replace(
        "corruption_level : float", "corruption_level : float, default=0.0") + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(200, 5)).astype("float32")
    >>> vae = aekit.VAE(latent_dim=2, epochs=5, verbose=0, random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 5)
    >>> bool((vae.log_likelihood(X[:10], k=50) >= vae.elbo(X[:10]) - 1.0).all())
    True
    """

    _bottleneck = "gaussian"
    _parameter_constraints = {**_SHARED_CONSTRAINTS, **_VARIATIONAL_CONSTRAINTS, **_CORRUPTION_CONSTRAINTS}

    def __init__(self, latent_dim=8, *, beta=1.0, kl_warmup_epochs=0, free_bits=0.0,
                 importance_samples=1, binarize=False, corruption="none", corruption_level=0.0,
                 mask_mode="pixels", patch_size=4, network="auto", hidden_dims=None,
                 activation="auto", likelihood="auto", sigma=None, scaler="auto", epochs="auto",
                 batch_size=128, learning_rate=1e-3, lr_schedule="cosine",
                 validation_fraction=0.1, patience=10, precision="auto", random_state=None,
                 verbose=1, device="auto", deterministic=False,
                 compile=False):
        self.latent_dim = latent_dim
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.free_bits = free_bits
        self.importance_samples = importance_samples
        self.binarize = binarize
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.mask_mode = mask_mode
        self.patch_size = patch_size
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


@register
class ConditionalVAE(BaseAutoEncoder):
    __doc__ = """A VAE whose decoder is conditioned on a class label: p(x | z, y).

    ``fit(X, y)`` needs labels. The encoder q(z|x) sees only x, so ``transform(X)`` needs no
    labels (scikit-learn's contract) and the code is pushed to hold what the label does not:
    decode one code with another label to change the class and keep the style. The bound is
    a valid ELBO on log p(x|y) for any q, so ``log_likelihood(X, y)`` estimates log p(x|y).
    Methods that decode (``reconstruct``, ``inverse_transform``, ``sample``,
    ``score_samples``, ``log_likelihood``) take ``y``.
    """ + _COMMON_DOC + _VARIATIONAL_DOC + _CORRUPTION_DOC.replace(
        "corruption : {", "corruption : default=\"none\", {").replace(
        "corruption_level : float", "corruption_level : float, default=0.0") + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(120, 5)).astype("float32")
    >>> y = np.repeat(["a", "b", "c"], 40)
    >>> cvae = aekit.ConditionalVAE(latent_dim=2, epochs=3, verbose=0).fit(X, y)
    >>> cvae.sample(2, y="b").shape
    (2, 5)
    """

    _bottleneck = "gaussian"
    _conditional = True
    _parameter_constraints = {**_SHARED_CONSTRAINTS, **_VARIATIONAL_CONSTRAINTS, **_CORRUPTION_CONSTRAINTS}

    def __init__(self, latent_dim=8, *, beta=1.0, kl_warmup_epochs=0, free_bits=0.0,
                 importance_samples=1, binarize=False, corruption="none", corruption_level=0.0,
                 mask_mode="pixels", patch_size=4, network="auto", hidden_dims=None,
                 activation="auto", likelihood="auto", sigma=None, scaler="auto", epochs="auto",
                 batch_size=128, learning_rate=1e-3, lr_schedule="cosine",
                 validation_fraction=0.1, patience=10, precision="auto", random_state=None,
                 verbose=1, device="auto", deterministic=False,
                 compile=False):
        self.latent_dim = latent_dim
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.free_bits = free_bits
        self.importance_samples = importance_samples
        self.binarize = binarize
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.mask_mode = mask_mode
        self.patch_size = patch_size
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile
