"""The building blocks the network families share."""

from __future__ import annotations

from itertools import pairwise

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
               "leaky_relu": nn.LeakyReLU, "linear": nn.Identity}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def mlp(widths: list[int], activation_name: str) -> nn.Sequential:
    """Linear layers between consecutive widths, each followed by the activation."""
    layers: list[nn.Module] = []
    for w_in, w_out in pairwise(widths):
        layers += [nn.Linear(w_in, w_out), activation(activation_name)]
    return nn.Sequential(*layers)


def stage_sizes(size: tuple[int, ...], max_stages: int) -> list[tuple[int, ...]]:
    """Sizes (spatial or temporal) after each stride-2 stage, starting with the input's: halved
    (rounding up) until the smallest side is at most 4, or after ``max_stages`` stages."""
    sizes = [tuple(size)]
    while min(sizes[-1]) > 4 and len(sizes) <= max_stages:
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    return sizes
