"""``BaseAutoEncoder``: the scikit-learn shell every preset shares.

It holds the hyper-parameters and the fitted attributes, and delegates: input checks to
``validation``, the network's config to ``building``, training to ``aekit.training``,
evaluation to ``inference``, the saved state to ``aekit.persistence``. Hyper-parameters are set
in ``__init__`` only and checked once, when ``fit`` starts; learned state ends in ``_``.
``fit`` returns ``self``: the presets work in ``Pipeline`` and ``GridSearchCV``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from .. import _params as P
from .. import training
from .._device import resolve_device
from .._distributed import join
from .._memory import require_memory
from ..data.feeding import resident
from ..errors import InvalidInputError, UnsupportedOperationError
from ..model import AutoencoderNet
from ..nn.corruption import CorruptionConfig
from ..persistence import save_model
from ..preprocessing import Scaler, summarize
from ..training.environment import deterministic, require_memory_for_weights, seeded
from . import inference, parameters
from .building import model_config
from .validation import validate_attributes, validate_labels, validate_samples

MIN_TRAINING_SAMPLES = 2


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Behaviour shared by every preset; use a preset, not this class."""

    _bottleneck = "deterministic"
    _conditional = False
    _parameter_constraints: dict = parameters.SHARED
    # The importance samples behind score_samples for stochastic models: enough to tighten
    # the bound well beyond one-sample ELBO noise, few enough to score large sets quickly.
    score_importance_samples = 16

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

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, attributes=None, checkpoint_path=None, resume: bool = False, callbacks=()):
        """Train on ``X`` (and labels ``y`` for a conditional model).

        ``attributes`` (a VAE's weak supervision): a table of known properties of the samples,
        one column per property (NaN where unknown), e.g. "smiling" or an object's size; code
        dimension j is trained to carry column j (standardised; weight ``attribute_weight``),
        so ``attribute_names_`` name the first code dimensions.

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
        parameters.check(self)
        rows = validate_samples(self, X, reset=True)
        if len(rows) < MIN_TRAINING_SAMPLES:
            raise InvalidInputError(f"X has 1 sample; an autoencoder needs at least "
                                    f"{MIN_TRAINING_SAMPLES} samples to train")
        y_idx = self._targets(rows, y, attributes, reset=True)
        summary = summarize(rows)
        self.scaler_ = Scaler.fit(summary, rows.dtype, self.scaler, rows.ndim == 4)
        device = resolve_device(self.device)
        group = join(device)
        group.check_same_data(rows, y_idx)
        try:
            config = model_config(self, rows.ndim == 4, summary.binary)
            # An unseeded fit draws its seed on process 0: every process must train with it.
            drawn = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            seed = group.same_everywhere(drawn)
            train_config = training.train_config(self.get_params(), self.sample_shape_, seed)
        except ValueError as exc:  # a parameter out of range: say which, in our error type
            raise InvalidInputError(str(exc)) from exc
        self.seed_ = seed
        self.training_data_sha256_ = summary.sha256  # which rows `held_out_rows` refers to
        require_memory_for_weights(config, device)
        with seeded(seed, device), deterministic(self.deterministic, device):
            # Initialised on the CPU, then moved: one seed gives the same initial weights anywhere.
            self.model_ = AutoencoderNet(config).to(device)
            state = training.fit(self.model_, rows, resident(y_idx, device), self.scaler_.transform,
                                 train_config, checkpoint_path=checkpoint_path, resume=resume,
                                 group=group, callbacks=callbacks)
        self.n_processes_, self.device_ = group.size, str(device)
        self.history_, self.n_iter_, self.precision_ = state.history, state.epoch, state.precision
        if not self.is_variational:
            self._fit_code_distribution(rows)
        return self

    def fine_tune(self, X, y=None, *, attributes=None, steps: int = 200, learning_rate: float | None = None,
                  callbacks=()):
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
        rows = validate_samples(self, X, reset=False)
        if len(rows) < MIN_TRAINING_SAMPLES:
            raise InvalidInputError(f"X has {len(rows)} sample(s); fine-tuning needs at least "
                                    f"{MIN_TRAINING_SAMPLES}")
        y_idx = self._targets(rows, y, attributes, reset=False)
        device = self.device_in_use()
        seed = (int(self.seed_) + int(self.n_iter_)) % np.iinfo(np.int32).max
        rate = self.learning_rate / 10 if learning_rate is None else float(learning_rate)
        config = training.config.fine_tune_config(self.get_params(), self.sample_shape_, seed, steps=steps,
                                                  learning_rate=rate, precision=self.precision_)
        with seeded(seed, device), deterministic(self.deterministic, device):
            state = training.fit(self.model_, rows, resident(y_idx, device), self.scaler_.transform,
                                 config, callbacks=callbacks)
        self.n_iter_ += state.epoch
        self.history_ = {key: list(self.history_.get(key, [])) + list(values)
                         for key, values in state.history.items()}
        if not self.is_variational:
            self._fit_code_distribution(rows)
        return self

    def _targets(self, rows, y, attributes, reset: bool) -> torch.Tensor | None:
        """What the network reads beside the samples: a conditional model's class indices, or a
        VAE's known attributes (standardised), or None."""
        if y is None and reset and self.is_conditional and rows.has_labels:
            y = rows.labels()  # a torch Dataset of (sample, label) pairs
        y_idx = validate_labels(self, y, len(rows), reset=reset)
        return validate_attributes(self, attributes, len(rows), reset=reset) if y_idx is None else y_idx

    def _fit_code_distribution(self, rows):
        """A Gaussian over the training codes: what ``sample`` draws from when there is no prior.

        Accumulated a batch at a time (Chan et al.'s pairwise update of the mean and the
        centred cross-products): the codes of a large data set are never held together."""
        k = self.latent_dim
        n, mean, cross = 0, np.zeros(k), np.zeros((k, k))
        for codes in inference.encode_mean_batches(self, rows):
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

    # ------------------------------------------------------------------ running the model
    def device_in_use(self) -> torch.device:
        """Resolve ``device`` and put the network there (a loaded model starts on the CPU; the
        parameter may also have been changed since the fit)."""
        check_is_fitted(self, "model_")
        device = resolve_device(self.device)
        if next(self.model_.parameters()).device != device:
            self.model_.to(device)
        return device

    def _prepare(self, X, y, labels_optional: bool = False):
        """Validated rows and label indices; ``labels_optional`` lets a conditional model's
        density methods marginalise over classes instead of requiring y."""
        check_is_fitted(self, "model_")
        rows = validate_samples(self, X, reset=False)
        if labels_optional and y is None:
            return rows, None
        return rows, validate_labels(self, y, len(rows), reset=False)

    def transform(self, X, y=None):
        """Latent means, shape ``(n, latent_dim)``: the features to cluster, classify or plot."""
        check_is_fitted(self, "model_")
        return inference.encode_means(self, validate_samples(self, X, reset=False))

    def kl_per_dimension(self, X) -> np.ndarray:
        """Each code dimension's KL from the prior, KL(q(z_d|x) || N(0, 1)) in nats, averaged over
        ``X``: what it carries about the inputs. Dimensions near 0 are inactive (the decoder
        ignores them); ``aekit.tasks.disentanglement.active_dimensions`` draws the line."""
        check_is_fitted(self, "model_")
        if not self.is_variational:
            raise InvalidInputError(f"{type(self).__name__} has no prior to measure a KL against: a VAE has")
        return inference.kl_per_dimension(self, validate_samples(self, X, reset=False))

    def inverse_transform(self, Z, y=None):
        """Decode codes ``Z`` (n, latent_dim) to data in the input's units and shape."""
        check_is_fitted(self, "model_")
        try:
            Z = check_array(Z.detach().cpu().numpy() if isinstance(Z, torch.Tensor) else Z, dtype=np.float32)
        except ValueError as exc:
            raise InvalidInputError(f"Z: {exc}") from exc
        if Z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"Z must have {self.latent_dim} columns (latent_dim), got {Z.shape[1]}")
        y_idx = validate_labels(self, y, len(Z), reset=False)
        return inference.decode_means(self, torch.from_numpy(np.ascontiguousarray(Z)), y_idx)

    def reconstruct(self, X, y=None):
        """Decode each input's latent mean: the model's reconstruction, in the input's units."""
        rows, y_idx = self._prepare(X, y)
        return inference.decode_means(self, torch.from_numpy(inference.encode_means(self, rows)), y_idx)

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
        y_idx = validate_labels(self, y, n_samples, reset=False)
        rng = check_random_state(random_state)
        if self.is_variational:
            Z = rng.standard_normal((n_samples, self.latent_dim))
        else:
            Z = rng.multivariate_normal(self.code_mean_, self.code_cov_, size=n_samples)
        Z = torch.from_numpy(Z.astype(np.float32))
        if not from_likelihood:
            return inference.decode_means(self, Z, y_idx)
        device = self.device_in_use()
        with seeded(int(rng.randint(np.iinfo(np.int32).max)), device), torch.inference_mode():
            params = self.model_.decode(Z.to(device), None if y_idx is None else y_idx.to(device))
            return inference.to_input_shape(self, self.scaler_.inverse(self.model_.likelihood.sample(params)))

    def score_samples(self, X, y=None):
        """Per-sample score, higher = more normal (as scikit-learn's outlier detectors).

        The log-likelihood of the reconstruction under the model's likelihood for deterministic
        models; the importance-sampled log p(x) (k = 16) for variational ones. In the
        preprocessed data's units, so scores compare across inputs of one model.
        """
        rows, y_idx = self._prepare(X, y, labels_optional=True)
        return inference.bound(self, rows, y_idx, self.score_importance_samples if self.is_variational else 1)

    def reconstruction_error(self, X, y=None, per_dim: bool = False) -> np.ndarray:
        """-log p(x | z = the code's mean) under the model's likelihood, in preprocessed units.

        Per sample, or with ``per_dim=True`` per data dimension in the input's shape (a heat map
        of where an image is reconstructed badly).
        """
        rows, y_idx = self._prepare(X, y)
        return inference.reconstruction_error(self, rows, y_idx, per_dim)

    def anomaly_score(self, X, y=None):
        """Per-sample anomaly score, higher = more anomalous: ``-score_samples``."""
        return -self.score_samples(X, y)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`, so that ``GridSearchCV`` can compare settings."""
        return float(np.mean(self.score_samples(X, y)))

    def elbo(self, X, y=None, n_draws: int = 16):
        """Per-sample evidence lower bound, averaged over ``n_draws`` codes from q(z|x)."""
        self._require_stochastic("elbo")
        rows, y_idx = self._prepare(X, y, labels_optional=True)
        return inference.bound(self, rows, y_idx, 1, draws=n_draws)

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
        rows, y_idx = self._prepare(X, y, labels_optional=True)
        return inference.bound(self, rows, y_idx, int(k))

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
