"""Choice 3, the bottleneck: how the encoder's features become a code.

* ``deterministic``: a linear map to the code (a classic autoencoder).
* ``gaussian``: a diagonal Gaussian posterior q(z|x) = N(mu, diag(sigma^2)) with a N(0, I)
  prior; a code is sampled with the reparameterisation trick z = mu + sigma * eps so that
  gradients flow through mu and sigma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

KINDS = ("deterministic", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


@dataclass
class Code:
    """A batch's code: ``z`` has shape ``(k, n, latent_dim)`` for k samples per input."""

    z: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor | None = None

    @property
    def stochastic(self) -> bool:
        return self.logvar is not None

    def kl_per_dim(self) -> torch.Tensor:
        """Analytic KL(q(z|x) || N(0, I)) per latent dimension, shape ``(n, latent_dim)``."""
        if self.logvar is None:
            return torch.zeros_like(self.mean)
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def log_prior(self) -> torch.Tensor:
        """log N(z; 0, I) per sample, shape ``(k, n)``."""
        return -0.5 * (self.z.pow(2) + _LOG_2PI).sum(-1)

    def log_posterior(self) -> torch.Tensor:
        """log q(z|x) of the drawn codes, shape ``(k, n)``."""
        eps2 = (self.z - self.mean).pow(2) / self.logvar.exp()
        return -0.5 * (eps2 + self.logvar + _LOG_2PI).sum(-1)


class DeterministicBottleneck(nn.Module):
    def __init__(self, in_features: int, latent_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_features, latent_dim)

    def forward(self, h: torch.Tensor, k: int = 1, sample: bool = True,
                eps: torch.Tensor | None = None) -> Code:
        mean = self.proj(h)
        return Code(z=mean.unsqueeze(0).expand(k, *mean.shape), mean=mean)


class GaussianBottleneck(nn.Module):
    # Bounds on log sigma^2 keep exp() finite in the first steps of a badly scaled run.
    LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0

    def __init__(self, in_features: int, latent_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_features, 2 * latent_dim)

    def forward(self, h: torch.Tensor, k: int = 1, sample: bool = True,
                eps: torch.Tensor | None = None) -> Code:
        """``eps`` (k, n or 1, latent_dim) fixes the noise: shared across a batch, it makes each
        input's estimate independent of which other inputs share its batch."""
        mean, logvar = self.proj(h).chunk(2, dim=-1)
        logvar = logvar.clamp(self.LOGVAR_MIN, self.LOGVAR_MAX)
        if not sample:
            return Code(z=mean.unsqueeze(0), mean=mean, logvar=logvar)
        if eps is None:
            eps = torch.randn(k, *mean.shape, dtype=mean.dtype, device=mean.device)
        return Code(z=mean + (0.5 * logvar).exp() * eps, mean=mean, logvar=logvar)


def make_bottleneck(kind: str, in_features: int, latent_dim: int) -> nn.Module:
    if kind == "deterministic":
        return DeterministicBottleneck(in_features, latent_dim)
    if kind == "gaussian":
        return GaussianBottleneck(in_features, latent_dim)
    raise ValueError(f"bottleneck must be one of {KINDS}, got {kind!r}")
