"""AdamStep: the fused Adam kernel called directly must leave exactly what ``step()`` leaves."""

import numpy as np
import pytest
import torch
from torch import nn

import aekit
from aekit.training import adam
from aekit.training.adam import AdamStep


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 6))


def _train(net, optimizer, step, lrs, x, unused=None):
    for lr in lrs:
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        net(x).pow(2).mean().backward()
        if unused is not None:  # a parameter that took no part in this step's loss
            unused.grad = None
        step()


def _same(a: nn.Module, b: nn.Module, opt_a, opt_b):
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(opt_a.state[pa][key], opt_b.state[pb][key]), (name, key)


def test_direct_kernel_leaves_what_step_leaves_bit_for_bit():
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
    lrs = [1e-2, 5e-3, 1e-3, 1e-3, 2e-4]  # a schedule: the lr is read at every call
    a, b = _net(), _net()
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-3, fused=True)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-3, fused=True, weight_decay=0.0)
    direct = AdamStep(opt_b)
    _train(a, opt_a, opt_a.step, lrs, x)
    _train(b, opt_b, direct, lrs, x)
    assert direct._state is not None  # the kernel was called directly after the first step
    _same(a, b, opt_a, opt_b)
    assert not torch.equal(a[0].weight, _net()[0].weight)  # it trained


@pytest.mark.parametrize("options", [{"fused": False}, {"fused": True, "amsgrad": True},
                                     {"fused": True, "weight_decay": 0.1}])
def test_other_adams_take_their_own_step_or_match_it(options):
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(2))
    a, b = _net(), _net()
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-2, **options)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2, **options)
    direct = AdamStep(opt_b)
    _train(a, opt_a, opt_a.step, [1e-2] * 4, x)
    _train(b, opt_b, direct, [1e-2] * 4, x)
    _same(a, b, opt_a, opt_b)
    assert (direct._state is not None) == (options == {"fused": True, "weight_decay": 0.1})


def test_a_parameter_without_gradient_is_left_as_step_leaves_it():
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(3))
    a, b = _net(), _net()
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-2, fused=True)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2, fused=True)
    direct = AdamStep(opt_b)
    _train(a, opt_a, opt_a.step, [1e-2] * 2, x)
    _train(b, opt_b, direct, [1e-2] * 2, x)
    bias_before = b[2].bias.detach().clone()
    _train(a, opt_a, opt_a.step, [1e-2] * 2, x, unused=a[2].bias)
    _train(b, opt_b, direct, [1e-2] * 2, x, unused=b[2].bias)
    _same(a, b, opt_a, opt_b)
    assert torch.equal(b[2].bias, bias_before)  # not moved by a stale gradient


def test_fit_trains_the_same_weights_without_the_direct_kernel(monkeypatch):
    X = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    fitted = aekit.VAE(latent_dim=2, epochs=3, verbose=0, random_state=0).fit(X)
    monkeypatch.setattr(adam, "_KERNEL", None)  # every step through optimizer.step()
    stepped = aekit.VAE(latent_dim=2, epochs=3, verbose=0, random_state=0).fit(X)
    assert fitted.history_ == stepped.history_
    for (name, p), q in zip(fitted.model_.state_dict().items(), stepped.model_.state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name

