"""Residual convolutional networks over images (2-D) and time-series windows (1-D).

One design serves both: each stage halves the resolution with a stride-2 convolution and then
refines it with pre-activation residual blocks (GroupNorm -> activation -> convolution, twice,
added to the input; He et al. 2016), until the smallest side is at most 4. A dense layer maps
the last feature map to the encoder's features. The decoder mirrors it: dense -> feature map,
then per stage residual blocks and a nearest-neighbour upsampling to the encoder's size at
that depth followed by a convolution (exact for odd sizes, and free of the checkerboard
patterns of transposed convolutions).

Residual blocks do not run at the input's full resolution: the first stage downsamples first.
A block there costs as much as all the later stages together (28x28 images at 32 channels:
14.5M multiply-adds per block against 3.6M at 14x14), for little gain in what a bottleneck of
a few dozen numbers can keep.

GroupNorm, not BatchNorm: a sample's output must not depend on the other samples of its batch
(scores and codes are per input; aekit pads batches at inference and promises identical codes
whatever a call contains) and it behaves the same in training and evaluation.

Temporal networks take windows ``(channels, time)``. They need no causal convolutions: the code
summarises the whole window, and a window holds only the past of its last step, so a score is
causal when each timestamp takes the score of the window that ends there
(``Windows.to_series(scores, reduce="last")``), never of windows reaching past it.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from .layers import activation as activation_layer
from .layers import mlp, stage_sizes

MAX_GROUPS = 8


def _conv(dims: int, c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    return (nn.Conv1d if dims == 1 else nn.Conv2d)(c_in, c_out, 3, stride=stride, padding=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, MAX_GROUPS), channels)


class ResidualBlock(nn.Module):
    """x + f(x), f = (norm -> activation -> 3-wide convolution) twice; f's last convolution
    starts at zero, so each block begins as the identity and deep stacks train from the start."""

    def __init__(self, dims: int, channels: int, activation: str):
        super().__init__()
        last = _conv(dims, channels, channels)
        self.body = nn.Sequential(_norm(channels), activation_layer(activation),
                                  _conv(dims, channels, channels),
                                  _norm(channels), activation_layer(activation), last)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x):
        return x + self.body(x)


def _stage_channels(n_stages: int, channels: tuple[int, ...]) -> list[int]:
    """The width of each stage: the configured widths, the last one repeated for deeper inputs."""
    return [channels[min(i, len(channels) - 1)] for i in range(n_stages)]


class ResidualEncoder(nn.Module):
    """``in_shape``: (channels, *size) as the convolutions see one sample."""

    def __init__(self, in_shape, hidden_dims, activation, channels, dims: int):
        super().__init__()
        in_channels, *size = in_shape
        self.in_shape = tuple(in_shape)
        self.dims, self.sizes = dims, stage_sizes(tuple(size), max_stages=8)
        widths = _stage_channels(len(self.sizes) - 1, channels)
        layers: list[nn.Module] = []
        for c_in, c_out in pairwise([in_channels, *widths]):
            layers.append(_conv(dims, c_in, c_out, stride=2))
            layers.append(ResidualBlock(dims, c_out, activation))
        last = widths[-1] if widths else in_channels
        if widths:
            layers += [_norm(last), activation_layer(activation)]
        self.stages = nn.Sequential(*layers)
        self.widths = widths
        self.flat_shape = (last, *self.sizes[-1])
        self.dense = mlp([math.prod(self.flat_shape), *hidden_dims], activation)
        self.out_features = hidden_dims[-1] if hidden_dims else math.prod(self.flat_shape)

    def forward(self, x):
        x = x.reshape(x.shape[0], *self.in_shape)  # a window (T,) is one channel
        if self.dims == 2:
            x = x.contiguous(memory_format=torch.channels_last)  # the weights' layout (model.py)
        return self.dense(self.stages(x).flatten(start_dim=1))


class _Upsample(nn.Module):
    """Nearest-neighbour resize to an exact size, then a convolution."""

    def __init__(self, dims, c_in, c_out, size):
        super().__init__()
        self.size = size
        self.conv = _conv(dims, c_in, c_out)

    def forward(self, x):
        return self.conv(F.interpolate(x, size=self.size, mode="nearest"))


class ResidualDecoder(nn.Module):
    """Codes to likelihood parameters shaped like the samples, ``(*sample_shape[, n_params])``."""

    def __init__(self, encoder: ResidualEncoder, sample_shape, hidden_dims, activation,
                 in_features, n_params):
        super().__init__()
        dims, out_channels = encoder.dims, encoder.in_shape[0]
        self.flat_shape = encoder.flat_shape
        widths = [in_features, *reversed(hidden_dims)]
        self.dense = nn.Sequential(mlp(widths, activation),
                                   nn.Linear(widths[-1], math.prod(self.flat_shape)))
        stage_widths = list(reversed(encoder.widths))  # deepest first
        sizes = list(reversed(encoder.sizes))  # from the smallest back to the input size
        layers: list[nn.Module] = []
        for i, width in enumerate(stage_widths):
            layers.append(ResidualBlock(dims, width, activation))
            # Each stage returns to the encoder's size one level up, at the next stage's width
            # (the first stage's width at full resolution).
            c_out = stage_widths[min(i + 1, len(stage_widths) - 1)]
            layers.append(_Upsample(dims, width, c_out, sizes[i + 1]))
        last = stage_widths[-1] if stage_widths else self.flat_shape[0]
        layers += [_norm(last), activation_layer(activation)]
        self.stages = nn.Sequential(*layers)
        self.head = _conv(dims, last, out_channels * n_params)
        self.sample_shape, self.n_params = tuple(sample_shape), n_params

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.dense(z.reshape(-1, z.shape[-1])).view(-1, *self.flat_shape)
        out = self.head(self.stages(h))
        if self.n_params == 1:
            return out.view(*lead, *self.sample_shape)
        out = out.view(-1, self.n_params, *self.sample_shape).movedim(1, -1)
        return out.reshape(*lead, *self.sample_shape, self.n_params)


def sequence_shape(sample_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(channels, time)`` of a window; ``(T,)`` is one channel."""
    if len(sample_shape) == 1:
        return 1, sample_shape[0]
    if len(sample_shape) == 2:
        return tuple(sample_shape)
    raise ValueError(f"temporal networks take windows (time,) or (channels, time), "
                     f"got samples of shape {sample_shape}")
