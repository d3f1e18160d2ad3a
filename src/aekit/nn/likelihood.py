"""Choice 4, the likelihood p(x|z): how a reconstruction is judged.

The decoder emits ``n_params`` values per data dimension; the likelihood turns them into a
distribution. Every method works per data dimension first (for heat maps) and per sample
after summing.

* ``bernoulli``: one logit per dimension; data must lie in [0, 1].
* ``gaussian``: a mean per dimension and a fixed standard deviation ``sigma`` (MSE up to
  scale and constant).
* ``gaussian_learned``: a mean *and* a log-variance per dimension, so the model says how
  sure it is of every output and an output can be sampled.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KINDS = ("bernoulli", "gaussian", "gaussian_learned")
_LOG_2PI = math.log(2 * math.pi)


class Likelihood:
    n_params = 1

    def nll_per_dim(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per data dimension, shape ``(k, n, *sample_shape)``.

        ``params`` has shape ``(k, n, *sample_shape)``, with a trailing axis of size
        ``n_params`` when that is more than one; ``x`` has shape ``(n, *sample_shape)``.
        """
        raise AssertionError("subclasses define this")

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) summed over all data dimensions of each sample."""
        per_dim = self.nll_per_dim(params, x)
        return per_dim.flatten(start_dim=per_dim.dim() - x.dim() + 1).sum(-1)


class Bernoulli(Likelihood):
    def nll_per_dim(self, logits, x):
        return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")

    def mean(self, logits):
        return torch.sigmoid(logits)

    def sample(self, logits):
        return torch.bernoulli(torch.sigmoid(logits))


class FixedGaussian(Likelihood):
    def __init__(self, sigma: float = 1.0):
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.sigma = sigma
        self._log_norm = 0.5 * _LOG_2PI + math.log(sigma)

    def nll_per_dim(self, mean, x):
        return 0.5 * ((x - mean) / self.sigma).pow(2) + self._log_norm

    def mean(self, mean):
        return mean

    def sample(self, mean):
        return mean + self.sigma * torch.randn_like(mean)


class LearnedGaussian(Likelihood):
    """Mean and log-variance share the decoder; they are stacked on a new leading axis."""

    n_params = 2
    # A floor on the variance stops the likelihood from diverging on pixels that never vary
    # (e.g. the black border of digits), which would otherwise dominate the loss.
    LOGVAR_MIN = math.log(1e-4)

    def split(self, params):
        mean, raw = params.unbind(dim=-1)
        logvar = self.LOGVAR_MIN + F.softplus(raw - self.LOGVAR_MIN)
        return mean, logvar

    def nll_per_dim(self, params, x):
        mean, logvar = self.split(params)
        return 0.5 * ((x - mean).pow(2) * torch.exp(-logvar) + logvar + _LOG_2PI)

    def mean(self, params):
        return self.split(params)[0]

    def std(self, params):
        return torch.exp(0.5 * self.split(params)[1])

    def sample(self, params):
        mean, logvar = self.split(params)
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def make_likelihood(kind: str, sigma: float = 1.0) -> Likelihood:
    if kind == "bernoulli":
        return Bernoulli()
    if kind == "gaussian":
        return FixedGaussian(sigma)
    if kind == "gaussian_learned":
        return LearnedGaussian()
    raise ValueError(f"likelihood must be one of {KINDS}, got {kind!r}")
