"""fused.DirectStep: the loss and gradients of the model's own forward pass under autograd."""

import numpy as np
import pytest
import torch

import aekit
from aekit.model import AutoencoderNet, ModelConfig, ObjectiveConfig
from aekit.nn.corruption import CorruptionConfig
from aekit.training import fused
from aekit.training.config import TrainConfig


def _model(likelihood="gaussian", bottleneck="gaussian", hidden=(32, 16), beta=1.0, seed=0, **extra):
    torch.manual_seed(seed)
    config = ModelConfig(sample_shape=(12,), latent_dim=3, hidden_dims=hidden, bottleneck=bottleneck,
                         likelihood=likelihood, sigma=0.3, objective=ObjectiveConfig(beta=beta), **extra)
    return AutoencoderNet(config).train()


def _data(likelihood, n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 12, generator=g) if likelihood == "bernoulli" else torch.randn(n, 12, generator=g)
    return x, torch.randn(1, n, 3, generator=g)


def _autograd(model, x, corrupted, eps, kl_weight):
    model.zero_grad(set_to_none=True)
    out = model(x, corrupted=corrupted, eps=eps, kl_weight=kl_weight)
    out.loss.backward()
    return out, {name: p.grad.clone() for name, p in model.named_parameters()}


def _direct(model, x, corrupted, eps, kl_weight, bf16=False):
    model.zero_grad(set_to_none=True)
    out = fused.DirectStep(model)(x, corrupted, eps, kl_weight, bf16)
    return out, {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli", "gaussian_learned"])
@pytest.mark.parametrize("bottleneck", ["gaussian", "deterministic"])
@pytest.mark.parametrize("hidden", [(32, 16), (8,), ()])
@pytest.mark.parametrize("denoising", [False, True])
def test_loss_and_gradients_are_autograds(likelihood, bottleneck, hidden, denoising):
    model = _model(likelihood, bottleneck, hidden, beta=2.0)
    x, eps = _data(likelihood)
    corrupted = (x + 0.1 * torch.randn_like(x)).clamp(0, 1) if denoising else None
    expected, grads = _autograd(model, x, corrupted, eps, kl_weight=0.3)
    got, direct_grads = _direct(model, x, corrupted, eps, kl_weight=0.3)
    torch.testing.assert_close(got.loss, expected.loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.nll, expected.nll, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(got.kl, expected.kl, rtol=1e-5, atol=1e-5)
    assert grads.keys() == direct_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(direct_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
        assert direct_grads[name].dtype == torch.float32 and direct_grads[name].shape == grad.shape


def test_a_clamped_log_variance_passes_no_gradient_as_autograd_does():
    model = _model()
    with torch.no_grad():  # log-variances past the clamp both ways, and across it
        model.bottleneck.proj.weight[3:] *= 20.0
        model.bottleneck.proj.bias[3:] += torch.tensor([16.0, -20.0, 0.0])
    x, eps = _data("gaussian")
    raw = model.bottleneck.proj(model.encoder(x))[:, 3:]
    inside = (raw >= -12) & (raw <= 8)
    assert (raw > 8).any() and (raw < -12).any() and inside.any()
    _, grads = _autograd(model, x, None, eps, 1.0)
    _, direct_grads = _direct(model, x, None, eps, 1.0)
    for name, grad in grads.items():
        torch.testing.assert_close(direct_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("bf16", [False, True])
def test_each_step_overwrites_the_gradients_it_wrote_before(bf16):
    """The step writes into each parameter's .grad in place: a second step on other rows must
    leave that step's gradients (not a sum), also after the gradients were set to None."""
    model = _model("bernoulli", hidden=(16,))
    step = fused.DirectStep(model)
    (x1, eps1), (x2, eps2) = _data("bernoulli", seed=1), _data("bernoulli", seed=2)
    step(x1, None, eps1, 1.0, bf16)
    written = [p.grad for p in model.parameters()]
    step(x2, None, eps2, 1.0, bf16)
    assert all(p.grad is g for p, g in zip(model.parameters(), written, strict=True))  # in place
    second = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    step(x2, None, eps2, 1.0, bf16)
    _, fresh = _direct(model, x2, None, eps2, 1.0, bf16)
    for name, grad in fresh.items():
        torch.testing.assert_close(second[name], grad, msg=name)
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, msg=name)


def test_learned_variances_at_their_floor_get_autograds_gradients():
    model = _model("gaussian_learned")
    with torch.no_grad():  # raw log-variances (the head's odd outputs) far below and near the floor
        model.decoder.head.bias[1::2] = torch.linspace(-40.0, 0.0, 12)
    x, eps = _data("gaussian")
    expected, grads = _autograd(model, x, None, eps, 1.0)
    got, direct_grads = _direct(model, x, None, eps, 1.0)
    torch.testing.assert_close(got.loss, expected.loss, rtol=1e-5, atol=1e-4)
    for name, grad in grads.items():  # gradients in the thousands: rounding scaled to them
        scale = grad.abs().max().item()
        torch.testing.assert_close(direct_grads[name], grad, rtol=1e-4, atol=1e-6 * scale, msg=name)


def test_bf16_follows_autocast():
    model = _model("bernoulli", hidden=(64,))
    x, eps = _data("bernoulli", n=64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(x, eps=eps)
    model.zero_grad(set_to_none=True)
    expected.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    got, direct_grads = _direct(model, x, None, eps, 1.0, bf16=True)
    torch.testing.assert_close(got.loss, expected.loss.float(), rtol=2e-2, atol=0)
    for name, grad in grads.items():
        cosine = torch.nn.functional.cosine_similarity(direct_grads[name].flatten(), grad.flatten(), dim=0)
        assert cosine > 0.99, name


def _train_config(**overrides):
    return TrainConfig(**{"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "lr_schedule": "constant",
                          "validation_fraction": 0.0, "patience": None, "random_state": 0,
                          "precision": "fp32", **overrides})


@pytest.mark.parametrize(("extra", "objective"), [
    ({}, {}),
    ({"bottleneck": "deterministic", "likelihood": "bernoulli"}, {}),
    ({"likelihood": "gaussian_learned"}, {}),
    ({"corruption": CorruptionConfig(kind="gaussian", level=0.1)}, {"kl_warmup_epochs": 3}),
])
def test_plain_mlp_models_are_supported(extra, objective):
    config = ModelConfig(sample_shape=(12,), latent_dim=3, objective=ObjectiveConfig(**objective), **extra)
    assert fused.supports(AutoencoderNet(config), _train_config(), processes=1)


@pytest.mark.parametrize(("extra", "objective", "train", "processes"), [
    ({"network": "conv", "sample_shape": (1, 8, 8)}, {}, {}, 1),
    ({"activation": "silu"}, {}, {}, 1),
    ({"n_classes": 3}, {}, {}, 1),
    ({"n_attributes": 1}, {}, {}, 1),
    ({}, {"importance_samples": 2}, {}, 1),
    ({}, {"free_bits": 0.5}, {}, 1),
    ({}, {"capacity": 5.0}, {}, 1),
    ({}, {"tc_weight": 4.0}, {}, 1),
    ({}, {}, {"compile": True}, 1),
    ({}, {}, {}, 2),
])
def test_everything_else_trains_through_autograd(extra, objective, train, processes):
    params = {"sample_shape": (12,), "latent_dim": 3, "bottleneck": "gaussian", **extra}
    model = AutoencoderNet(ModelConfig(objective=ObjectiveConfig(**objective), **params))
    assert not fused.supports(model, _train_config(**train), processes=processes)


@pytest.mark.parametrize("estimator", [aekit.VAE, aekit.AutoEncoder])
def test_a_fit_ends_where_autograd_would(estimator, monkeypatch):
    X = np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32)
    direct = estimator(latent_dim=2, epochs=4, verbose=0, random_state=0).fit(X)
    monkeypatch.setattr(fused, "supports", lambda *args: False)
    through_autograd = estimator(latent_dim=2, epochs=4, verbose=0, random_state=0).fit(X)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(direct.history_[key], through_autograd.history_[key], rtol=1e-4)
    np.testing.assert_allclose(direct.transform(X), through_autograd.transform(X), rtol=1e-3, atol=1e-4)
