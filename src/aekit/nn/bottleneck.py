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
PAIR_ROWS = 256  # codes per block of the split KL's pairwise densities


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

    def kl_decomposition(self, dataset_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The KL term split as beta-TCVAE splits it (Chen et al., 2018), per input of a batch
        with one code each: index-code mutual information ``log q(z|x) - log q(z)``, total
        correlation ``log q(z) - sum_d log q(z_d)`` and dimension-wise KL
        ``sum_d log q(z_d) - log p(z)``, each of shape ``(n,)``; they add up to
        ``log q(z|x) - log p(z)``, the KL's one-sample estimate.

        The aggregate posterior q(z) and its marginals are estimated on the batch by
        minibatch-weighted sampling: ``log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N M)``
        for a batch of M inputs drawn from ``dataset_size`` = N.
        """
        z, mean, logvar = self.z[0], self.mean, self.logvar  # one code per input
        log_nm = math.log(dataset_size * len(z))
        log_q, log_marginals = [], []
        for rows in torch.split(z, PAIR_ROWS):  # bounded memory on large (evaluation) batches
            # log q(z_i,d | x_j) for these codes i and every input j of the batch: (rows, M, D)
            pairs = -0.5 * ((rows[:, None, :] - mean[None]).pow(2) / logvar.exp()[None] + logvar[None]
                            + _LOG_2PI)
            log_q.append(torch.logsumexp(pairs.sum(-1), dim=1) - log_nm)
            log_marginals.append((torch.logsumexp(pairs, dim=1) - log_nm).sum(-1))
        log_q, log_marginals = torch.cat(log_q), torch.cat(log_marginals)
        log_posterior, log_prior = self.log_posterior()[0], self.log_prior()[0]
        return log_posterior - log_q, log_q - log_marginals, log_marginals - log_prior


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
