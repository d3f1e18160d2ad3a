"""The five choices, each checked against the mathematics it implements."""

import math

import numpy as np
import pytest
import torch

from aekit.model import AutoencoderNet, ModelConfig, ObjectiveConfig
from aekit.nn.bottleneck import GaussianBottleneck
from aekit.nn.corruption import CorruptionConfig, corrupt
from aekit.nn.likelihood import Bernoulli, FixedGaussian, LearnedGaussian
from aekit.nn.networks import make_networks


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (2, 13, 21), (1, 3, 3)])
@pytest.mark.parametrize("n_params", [1, 2])
def test_conv_decoder_restores_any_image_size(shape, n_params):
    encoder, decoder = make_networks("conv", shape, (32,), "relu", decoder_in=4, n_params=n_params)
    features = encoder(torch.zeros(5, *shape))
    out = decoder(torch.zeros(3, 5, 4))
    assert features.shape == (5, 32)
    assert out.shape == (3, 5, *shape) + ((n_params,) if n_params > 1 else ())


def test_mlp_networks_round_trip_vector_shape():
    encoder, decoder = make_networks("mlp", (10,), (16, 8), "gelu", decoder_in=3, n_params=1)
    assert encoder(torch.zeros(4, 10)).shape == (4, 8)
    assert decoder(torch.zeros(2, 4, 3)).shape == (2, 4, 10)


def test_likelihoods_match_torch_distributions():
    torch.manual_seed(0)
    x = torch.rand(4, 6)
    logits = torch.randn(1, 4, 6)
    expected = -torch.distributions.Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)
    assert torch.allclose(Bernoulli().nll(logits, x), expected, atol=1e-5)

    mean = torch.randn(1, 4, 6)
    expected = -torch.distributions.Normal(mean, 0.3).log_prob(x).sum(-1)
    assert torch.allclose(FixedGaussian(0.3).nll(mean, x), expected, atol=1e-4)

    params = torch.randn(1, 4, 6, 2)
    lik = LearnedGaussian()
    mu, logvar = lik.split(params)
    expected = -torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(x).sum(-1)
    assert torch.allclose(lik.nll(params, x), expected, atol=1e-4)


def test_learned_gaussian_samples_have_the_predicted_spread():
    params = torch.zeros(1, 20000, 2)
    params[..., 1] = math.log(0.25)  # raw value above the floor: variance close to 0.25
    samples = LearnedGaussian().sample(params)
    assert abs(samples.std().item() - LearnedGaussian().std(params).mean().item()) < 0.01


def test_gaussian_bottleneck_kl_matches_torch_and_reparameterises():
    torch.manual_seed(0)
    bottleneck = GaussianBottleneck(5, 3)
    h = torch.randn(7, 5, requires_grad=True)
    code = bottleneck(h, k=4)
    q = torch.distributions.Normal(code.mean, (0.5 * code.logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    assert torch.allclose(code.kl_per_dim(), torch.distributions.kl_divergence(q, p), atol=1e-5)
    assert torch.allclose(code.log_posterior(), q.log_prob(code.z).sum(-1), atol=1e-5)
    assert code.z.shape == (4, 7, 3)
    code.z.sum().backward()  # gradients reach the encoder through z = mu + sigma * eps
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_corruptions():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    assert corrupt(x, CorruptionConfig()) is x
    noisy = corrupt(x, CorruptionConfig("gaussian", 0.2))
    assert abs((noisy - x).std().item() - 0.2) < 0.01
    sp = corrupt(x, CorruptionConfig("salt_pepper", 0.1))
    changed = (sp != x).float().mean().item()
    assert 0.08 < changed < 0.12 and set(sp[sp != x].unique().tolist()) <= {x.min().item(), x.max().item()}
    pixels = corrupt(x, CorruptionConfig("mask", 0.5, mask_mode="pixels"))
    zero = pixels == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # all channels of a pixel vanish together
    assert 0.45 < zero.float().mean().item() < 0.55
    patches = corrupt(x, CorruptionConfig("mask", 0.5, mask_mode="patches", patch_size=4))
    blocks = (patches[:, 0] == 0).float().unfold(1, 4, 4).unfold(2, 4, 4)  # (n, 4, 4, 4, 4)
    assert torch.all((blocks.mean((-1, -2)) == 0) | (blocks.mean((-1, -2)) == 1))
    grey = corrupt(x, CorruptionConfig("greyscale"))
    assert torch.equal(grey[:, 0], grey[:, 2])
    with pytest.raises(ValueError, match="corruption must be one of"):
        CorruptionConfig("blur")


def test_iwae_bound_is_tighter_than_elbo_and_k1_equals_elbo_in_expectation():
    torch.manual_seed(0)
    config = ModelConfig(sample_shape=(6,), latent_dim=2, bottleneck="gaussian", hidden_dims=(8,))
    model = AutoencoderNet(config)
    x = torch.randn(500, 6)
    with torch.no_grad():
        elbo = torch.stack([model(x).bound for _ in range(50)]).mean()
        iwae = torch.stack([model(x, k=50).bound for _ in range(5)]).mean()
    assert iwae > elbo


def test_free_bits_and_warmup_change_only_the_kl_term():
    torch.manual_seed(0)
    x = torch.randn(32, 6)
    base = ModelConfig(sample_shape=(6,), latent_dim=3, bottleneck="gaussian", hidden_dims=(8,))
    model = AutoencoderNet(base)
    eps = torch.randn(1, 1, 3)
    out = model(x, eps=eps)
    assert torch.allclose(out.loss, out.nll.mean() + out.kl.mean())
    assert torch.allclose(model(x, eps=eps, kl_weight=0.0).loss, out.nll.mean())
    floored = AutoencoderNet(ModelConfig(**{**base.__dict__, "objective": ObjectiveConfig(free_bits=100.0)}))
    floored.load_state_dict(model.state_dict())
    assert torch.allclose(floored(x, eps=eps).loss, out.nll.mean() + 100.0 * 3)


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian", "gaussian_learned"])
def test_model_forward_returns_one_typed_result(kind):
    config = ModelConfig(sample_shape=(1, 8, 8), latent_dim=2, network="conv", bottleneck="gaussian",
                         likelihood=kind, hidden_dims=(16,))
    out = AutoencoderNet(config)(torch.rand(5, 1, 8, 8), k=3)
    assert out.code.z.shape == (3, 5, 2)
    assert out.nll.shape == out.kl.shape == out.bound.shape == (5,)
    assert out.loss.dim() == 0 and np.isfinite(out.loss.item())
