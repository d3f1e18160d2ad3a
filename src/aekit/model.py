"""An autoencoder as the composition of five choices, and its one forward pass.

corruption -> encoder -> bottleneck -> decoder -> likelihood, weighted by the objective.
:class:`ModelConfig` names the choices (it is what ``config.json`` stores);
:class:`AutoencoderNet` (the torch module; the estimators are in ``aekit.estimators``) builds them;
:meth:`AutoencoderNet.forward` returns a :class:`ForwardResult`
that training, scoring and every task read, so no task re-derives the model's maths.

The objective, per input x with k codes z_1..z_k drawn from q(z|x):

* deterministic bottleneck: -log p(x|z)
* Gaussian, k = 1 (ELBO): -log p(x|z) + beta * w * KL(q(z|x) || N(0, I)), where w ramps from 0
  to 1 during KL warm-up and free bits floor each dimension's batch-mean KL at ``free_bits``
* Gaussian, k > 1 (IWAE): -log (1/k) sum_i p(x|z_i) [p(z_i) / q(z_i|x)]^(beta * w)
* Gaussian, k = 1, with any of ``mi_weight``, ``tc_weight``, ``dim_kl_weight`` set (beta-TCVAE,
  Chen et al. 2018): -log p(x|z) + w * (a * MI + b * TC + c * dimKL), the KL's one-sample
  estimate split into index-code mutual information, total correlation and dimension-wise KL
  (``Code.kl_decomposition``); an unset weight is ``beta``. a = c = 1 and b > 1 penalise only
  the dependence between code dimensions, which is what disentangles
* Gaussian, k = 1, with a ``capacity`` C (Burgess et al. 2018): -log p(x|z) + beta * |KL - C_t|,
  where C_t rises from 0 to C over ``capacity_epochs``: the code is let carry information a
  few nats at a time, so the factors that explain most of the reconstruction enter first
* with known attributes a (weak supervision; ``n_attributes`` > 0, the batch's ``y``): plus
  ``attribute_weight`` * 1/2 sum_j (mu_j - a_j)^2 over the known a_j (standardised; NaN unknown),
  so code dimension j carries attribute j
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import _params as P
from ._distributed import mean_over_rows
from .errors import InvalidInputError
from .nn.bottleneck import KINDS as BOTTLENECKS
from .nn.bottleneck import Code, make_bottleneck
from .nn.corruption import CorruptionConfig
from .nn.custom import CustomNetwork
from .nn.layers import ACTIVATIONS
from .nn.likelihood import KINDS as LIKELIHOODS
from .nn.likelihood import make_likelihood
from .nn.networks import DEFAULT_CONV_CHANNELS, make_networks
from .nn.networks import KINDS as NETWORKS


@dataclass(frozen=True)
class ObjectiveConfig:
    """Choice 5: the weights of the objective."""

    beta: float = 1.0
    kl_warmup_epochs: int = 0
    free_bits: float = 0.0
    importance_samples: int = 1  # k codes per input; k > 1 trains on the IWAE bound
    # beta-TCVAE's weights of the KL's three parts; None: beta. Any set splits the KL term.
    mi_weight: float | None = None
    tc_weight: float | None = None
    dim_kl_weight: float | None = None
    # Capacity annealing: the KL is held near a target that rises from 0 to `capacity` nats.
    capacity: float | None = None
    capacity_epochs: int = 0
    attribute_weight: float = 100.0  # known attributes: how hard code dimension j is held to attribute j

    def __post_init__(self):
        P.check_params("objective", self.__dict__, {
            "beta": [P.Float(0)], "kl_warmup_epochs": [P.Int(0)], "free_bits": [P.Float(0)],
            "importance_samples": [P.Int(1, 4096)], "mi_weight": [None, P.Float(0)],
            "tc_weight": [None, P.Float(0)], "dim_kl_weight": [None, P.Float(0)],
            "capacity": [None, P.Float(0)], "capacity_epochs": [P.Int(0)], "attribute_weight": [P.Float(0)]})
        if self.decomposed and (self.importance_samples > 1 or self.free_bits > 0):
            raise InvalidInputError(
                "objective: mi_weight, tc_weight and dim_kl_weight split the one-code KL term: they do "
                "not combine with importance_samples > 1 or free_bits")
        if self.capacity is not None and (self.decomposed or self.importance_samples > 1
                                          or self.free_bits > 0 or self.kl_warmup_epochs > 0):
            raise InvalidInputError(
                "objective: capacity holds the one-code KL term near a target: it does not combine with "
                "mi_weight/tc_weight/dim_kl_weight, importance_samples > 1, free_bits or kl_warmup_epochs")

    def kl_weight_at(self, epochs_done: float) -> float:
        """The KL warm-up's factor after ``epochs_done`` (fractional) epochs: 0 -> 1."""
        warmup = self.kl_warmup_epochs
        return min(1.0, epochs_done / warmup) if warmup else 1.0

    def capacity_at(self, epochs_done: float) -> float | None:
        """The KL target after ``epochs_done`` epochs (None: no capacity term)."""
        if self.capacity is None:
            return None
        ramp = min(1.0, epochs_done / self.capacity_epochs) if self.capacity_epochs else 1.0
        return self.capacity * ramp

    @property
    def decomposed(self) -> bool:
        """Whether the KL term is split into its three weighted parts (beta-TCVAE)."""
        return any(w is not None for w in (self.mi_weight, self.tc_weight, self.dim_kl_weight))

    def part_weights(self) -> tuple[float, float, float]:
        """The weights of index-code MI, total correlation and dimension-wise KL."""
        return tuple(self.beta if w is None else w
                     for w in (self.mi_weight, self.tc_weight, self.dim_kl_weight))


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's modules (weights aside)."""

    sample_shape: tuple[int, ...]
    latent_dim: int
    network: str | CustomNetwork = "mlp"  # a kind of networks.py, or the user's own factories
    hidden_dims: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    conv_channels: tuple[int, ...] = DEFAULT_CONV_CHANNELS
    bottleneck: str = "deterministic"
    likelihood: str = "gaussian"
    sigma: float = 1.0
    n_classes: int = 0  # > 0: the decoder is conditioned on a one-hot class label
    n_attributes: int = 0  # > 0: the first code dimensions are held to known attributes (y)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)

    def __post_init__(self):
        # Types and sizes as well as values: a config.json read back must fail here, before
        # any tensor is allocated, whatever it holds.
        P.check_params("model", {k: v for k, v in self.__dict__.items()
                                 if k not in ("corruption", "objective")}, {
            "sample_shape": [P.Widths(max_len=3)], "latent_dim": [P.Int(1, 1 << 20)],
            "network": [P.OneOf(NETWORKS), P.Instance(CustomNetwork)], "hidden_dims": [P.Widths(max_len=32)],
            "activation": [P.OneOf(tuple(ACTIVATIONS))], "conv_channels": [P.Widths(max_len=16)],
            "bottleneck": [P.OneOf(BOTTLENECKS)], "likelihood": [P.OneOf(LIKELIHOODS)],
            "sigma": [P.Float(0, low_open=True)], "n_classes": [P.Int(0, 1 << 20)],
            "n_attributes": [P.Int(0, 1 << 20)]})
        if self.n_attributes > self.latent_dim or (self.n_attributes and self.n_classes):
            raise ValueError("n_attributes must be at most latent_dim, and not set with n_classes")
        if not self.sample_shape:
            raise ValueError("sample_shape must have at least one dimension")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        d["corruption"] = CorruptionConfig(**d.get("corruption", {}))
        d["objective"] = ObjectiveConfig(**d.get("objective", {}))
        if isinstance(d.get("network"), dict):
            d["network"] = CustomNetwork.from_dict(d["network"])
        for key in ("sample_shape", "hidden_dims", "conv_channels"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclass
class ForwardResult:
    """One forward pass over a batch of n inputs with k codes each."""

    params: torch.Tensor  # likelihood parameters, shape (k, n, *sample_shape[, n_params])
    code: Code
    nll: torch.Tensor  # (n,) -log p(x|z), averaged over the k codes
    kl: torch.Tensor  # (n,) analytic KL(q(z|x) || p(z)); zeros for a deterministic code
    bound: torch.Tensor  # (n,) the ELBO (k = 1) or IWAE bound (k > 1) at beta = 1
    loss: torch.Tensor  # scalar: the weighted objective that training minimises


class AutoencoderNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.likelihood = make_likelihood(config.likelihood, config.sigma)
        decoder_in = config.latent_dim + config.n_classes
        if isinstance(config.network, CustomNetwork):
            self.encoder, self.decoder = config.network.build(config.sample_shape, decoder_in,
                                                              self.likelihood.n_params)
        else:
            self.encoder, self.decoder = make_networks(
                config.network, config.sample_shape, config.hidden_dims, config.activation,
                decoder_in=decoder_in, n_params=self.likelihood.n_params,
                conv_channels=config.conv_channels)
        self.bottleneck = make_bottleneck(config.bottleneck, self.encoder.out_features,
                                          config.latent_dim)
        if config.network in ("conv", "resnet"):
            # oneDNN's CPU convolutions trained 1.09x faster on channels-last weights and
            # activations (benchmarks/conv_speed.py); weights are saved contiguous, so files
            # do not change.
            self.to(memory_format=torch.channels_last)

    @property
    def stochastic(self) -> bool:
        return self.config.bottleneck == "gaussian"

    def inference_batch_size(self, k: int = 1) -> int:
        """Inputs per batch for evaluation: enough to amortise per-call overhead, few enough that
        activations stay small. The conv net's forward pass on 28x28 images ran 8.6k samples/s at
        batch 64 and 128, 4.4k at 256 and 2.0k at 4096 on the AVX2 machine of 2026-11-22
        (allocation churn; benchmarks/profile_step.py), so conv batches are sized for ~170 rows
        of 28x28. On the AVX-512 machine of 2026-12-07 the same script found 1,024 rows fastest
        (30.5k against 25.1k at 128); the rule is kept until more machines are measured."""
        width = math.prod(self.config.sample_shape)
        if self.config.network == "mlp" and self.config.hidden_dims:
            # A narrow table's rows are smaller than the layers they pass through: sized by its
            # input alone, a batch of 16 importance samples padded 4,096 rows of 9 columns to
            # 65,536 passes of the hidden layers for any call, however few the rows.
            width = max(width, max(self.config.hidden_dims))
        per_input = k * width
        if self.config.network != "mlp" and len(self.config.sample_shape) == 3:
            per_input *= 16  # a conv net's activations are several times its input
        return max(1, min(4096, (1 << 21) // per_input))

    def encode(self, x: torch.Tensor, k: int = 1, sample: bool = True,
               eps: torch.Tensor | None = None) -> Code:
        return self.bottleneck(self.encoder(x), k=k, sample=sample, eps=eps)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters for codes ``z`` of shape ``(..., latent_dim)``."""
        if self.config.n_classes:
            if y is None:
                raise ValueError("this model is class-conditioned: pass the labels y")
            onehot = F.one_hot(y, self.config.n_classes).to(z.dtype)
            z = torch.cat([z, onehot.expand(*z.shape[:-1], -1)], dim=-1)
        # Likelihoods are evaluated in fp32 even under bf16 autocast: they sum many terms.
        return self.decoder(z).float()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 1,
                kl_weight: float = 1.0, corrupted: torch.Tensor | None = None,
                sample: bool = True, eps: torch.Tensor | None = None,
                batch_mean=mean_over_rows, dataset_size: int | None = None,
                capacity: float | None = None) -> ForwardResult:
        """``corrupted``: what the encoder sees instead of ``x`` (a denoising model in training;
        the training loop corrupts with ``aekit.nn.corruption.corrupt``). ``batch_mean`` reduces
        per-input terms to the loss: the mean over dim 0 here, over the global batch when
        training on several processes (``_distributed.Group.batch_mean``). ``dataset_size``:
        the rows the batch is drawn from, for the split KL's estimate of q(z) (default: the
        batch's own size). ``capacity``: the KL target at this point of training (default: the
        objective's full ``capacity``). ``y``: class labels (a conditional model) or known
        attributes, standardised, NaN where unknown (a model with ``n_attributes``)."""
        attributes = None
        if self.config.n_attributes:
            attributes, y = y, None
        out = self._objective(x, y, k=k, kl_weight=kl_weight, corrupted=corrupted, sample=sample,
                              eps=eps, batch_mean=batch_mean, dataset_size=dataset_size, capacity=capacity)
        if attributes is not None:
            known = torch.isfinite(attributes)
            targets = torch.where(known, attributes, 0.0)
            gap = (out.code.mean[:, :attributes.shape[1]].float() - targets) * known
            weight = self.config.objective.attribute_weight
            out.loss = out.loss + weight * batch_mean(0.5 * gap.pow(2).sum(-1))
        return out

    def _objective(self, x, y, *, k, kl_weight, corrupted, sample, eps, batch_mean, dataset_size,
                   capacity) -> ForwardResult:
        cfg = self.config
        code = self.encode(x if corrupted is None else corrupted, k=k, sample=sample, eps=eps)
        params = self.decode(code.z, y)
        nll_k = self.likelihood.nll(params, x)  # (k, n)
        kl_dim = code.kl_per_dim().float()
        kl = kl_dim.sum(-1)
        k = code.z.shape[0]
        if not code.stochastic:
            bound = -nll_k.mean(0)
            return ForwardResult(params, code, nll_k.mean(0), kl, bound, -batch_mean(bound))
        if k == 1:
            bound = -(nll_k[0] + kl)
            weight = cfg.objective.beta * kl_weight
            if cfg.objective.decomposed:
                a, b, c = cfg.objective.part_weights()
                mi, tc, dim_kl = code.kl_decomposition(dataset_size or len(x))
                loss = batch_mean(nll_k[0]) + kl_weight * batch_mean(a * mi + b * tc + c * dim_kl)
                return ForwardResult(params, code, nll_k[0], kl, bound, loss)
            if cfg.objective.capacity is not None:
                target = cfg.objective.capacity if capacity is None else capacity
                kl_term = (batch_mean(kl) - target).abs()
            elif cfg.objective.free_bits > 0:
                # Free bits (Kingma et al. 2016): no pressure on a dimension whose batch-mean
                # KL is already below the floor, so codes are not pushed into collapse.
                kl_term = batch_mean(kl_dim).clamp(min=cfg.objective.free_bits).sum()
            else:
                kl_term = batch_mean(kl)
            loss = batch_mean(nll_k[0]) + weight * kl_term
            return ForwardResult(params, code, nll_k[0], kl, bound, loss)
        log_ratio = (code.log_prior() - code.log_posterior()).float()  # (k, n)
        log_k = math.log(k)
        bound = torch.logsumexp(log_ratio - nll_k, dim=0) - log_k
        weight = cfg.objective.beta * kl_weight
        if weight == 1.0:
            loss = -batch_mean(bound)
        else:
            loss = -batch_mean(torch.logsumexp(weight * log_ratio - nll_k, dim=0) - log_k)
        return ForwardResult(params, code, nll_k.mean(0), kl, bound, loss)
