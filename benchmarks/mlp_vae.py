"""The pytorch/examples VAE (784-400-20, ReLU, Bernoulli) as each compared tool builds it.

speed.py and density.py compare tools on this one architecture; this module builds it for a
plain loop, for pythae (VAE or IWAE) and for aekit, and evaluates every tool's model with the
same estimators, so no tool is measured by its own code.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

import aekit

D, H, K = 784, 400, 20
# Multiply-adds per sample in one forward pass; training costs about 3x (forward + backward).
FORWARD_MACS = D * H + H * 2 * K + K * H + H * D


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(D, H), nn.Linear(H, K), nn.Linear(H, K)

    def forward(self, x):  # mean and log-variance of q(z|x)
        h = F.relu(self.fc1(x.reshape(-1, D)))
        return self.fc21(h), self.fc22(h)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc3, self.fc4 = nn.Linear(K, H), nn.Linear(H, D)

    def forward(self, z):  # logits
        return self.fc4(F.relu(self.fc3(z)))


def pythae_model(n_samples: int = 1):
    """pythae 0.1.2's VAE (or IWAE with ``n_samples`` > 1) around the same encoder and decoder."""
    from pythae.models import IWAE, VAE, IWAEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class PEncoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = Encoder()

        def forward(self, x):
            mu, logvar = self.net(x)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class PDecoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = Decoder()

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    logging.getLogger("pythae").setLevel(logging.ERROR)  # its per-run banner, not its speed
    if n_samples > 1:
        config = IWAEConfig(input_dim=(D,), latent_dim=K, reconstruction_loss="bce",
                            number_samples=n_samples)
        return IWAE(config, encoder=PEncoder(), decoder=PDecoder())
    return VAE(VAEConfig(input_dim=(D,), latent_dim=K, reconstruction_loss="bce"),
               encoder=PEncoder(), decoder=PDecoder())


def pythae_parts(model):
    """(encode, decode_logits) of a pythae model built by :func:`pythae_model`."""
    return model.encoder.net, model.decoder.net


def aekit_vae(**params) -> aekit.VAE:
    return aekit.VAE(latent_dim=K, network="mlp", hidden_dims=(H,), likelihood="bernoulli",
                     verbose=0, random_state=0, **params)


def aekit_parts(vae: aekit.VAE):
    """(encode, decode_logits) of a fitted aekit VAE on [0, 1] inputs."""
    m = vae.model_
    return (lambda x: m.bottleneck.proj(m.encoder(x)).chunk(2, dim=-1)), m.decode


@torch.inference_mode()
def negative_elbo(encode, decode_logits, X: torch.Tensor) -> float:
    """Mean -ELBO (nats per image) with one seeded posterior sample."""
    gen = torch.Generator().manual_seed(0)
    total = 0.0
    for start in range(0, len(X), 2000):
        x = X[start:start + 2000]
        mu, logvar = encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        nll = F.binary_cross_entropy_with_logits(decode_logits(z), x, reduction="none").sum(-1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        total += (nll + kl).sum().item()
    return total / len(X)


@torch.inference_mode()
def negative_log_likelihood(encode, decode_logits, X: torch.Tensor, k: int = 1000,
                            batch: int = 25) -> float:
    """Mean -log p(x) (nats per image), importance-sampled with k seeded draws from q(z|x)."""
    gen = torch.Generator().manual_seed(0)
    total = 0.0
    for start in range(0, len(X), batch):
        x = X[start:start + batch]
        mu, logvar = encode(x)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn((k, *mu.shape), generator=gen)
        z = mu + std * eps
        log_q = (-0.5 * eps.pow(2) - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prior = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_px_z = -F.binary_cross_entropy_with_logits(
            decode_logits(z), x.expand(k, *x.shape), reduction="none").sum(-1)
        log_w = log_px_z + log_prior - log_q
        total -= (torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
    return total / len(X)
