"""Choice 2, the networks: an encoder to a feature vector and a decoder back to data.

``mlp`` serves vectors (and flattened images); ``conv`` and ``resnet`` serve images
``(C, H, W)`` of any size; ``temporal`` serves time-series windows
``(time,)`` or ``(channels, time)`` (residual.py holds the residual families). The plain
convolutional encoder halves the resolution with stride-2 convolutions until the
smaller side is at most 4; the decoder records those sizes and undoes them exactly with
transposed convolutions, so odd sizes such as 28 -> 14 -> 7 -> 4 -> 7 -> 14 -> 28 round-trip.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

from .layers import activation as activation_layer
from .layers import mlp, stage_sizes
from .residual import ResidualDecoder, ResidualEncoder, sequence_shape

KINDS = ("mlp", "conv", "resnet", "temporal")
DEFAULT_CONV_CHANNELS = (16, 32, 64, 128)


class MLPEncoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation):
        super().__init__()
        self.body = mlp([math.prod(sample_shape), *hidden_dims], activation)
        self.out_features = hidden_dims[-1] if hidden_dims else math.prod(sample_shape)

    def forward(self, x):
        return self.body(x.flatten(start_dim=1))


class MLPDecoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation, in_features, n_params):
        super().__init__()
        widths = [in_features, *reversed(hidden_dims)]
        self.body = mlp(widths, activation)
        self.head = nn.Linear(widths[-1], math.prod(sample_shape) * n_params)
        self.out_shape = (*sample_shape, n_params) if n_params > 1 else tuple(sample_shape)

    def forward(self, z):
        # The layers see one matrix of codes, as ConvDecoder's do: the (k, n, latent) codes of
        # training would otherwise take torch's batched-matmul path (benchmarks/step_ablation.py
        # measured the difference within its run-to-run spread).
        h = self.head(self.body(z.reshape(-1, z.shape[-1])))
        return h.view(*z.shape[:-1], *self.out_shape)


class ConvEncoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation, channels):
        super().__init__()
        c, h, w = sample_shape
        self.sizes = stage_sizes((h, w), len(channels))
        chans = [c, *channels[: len(self.sizes) - 1]]
        stages: list[nn.Module] = []
        for c_in, c_out in pairwise(chans):
            stages += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), activation_layer(activation)]
        self.stages = nn.Sequential(*stages)
        self.flat_shape = (chans[-1], *self.sizes[-1])
        self.dense = mlp([math.prod(self.flat_shape), *hidden_dims], activation)
        self.out_features = hidden_dims[-1] if hidden_dims else math.prod(self.flat_shape)

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)  # the weights' layout (model.py)
        return self.dense(self.stages(x).flatten(start_dim=1))


class ConvDecoder(nn.Module):
    def __init__(self, encoder: ConvEncoder, sample_shape, hidden_dims, activation,
                 in_features, n_params):
        super().__init__()
        c = sample_shape[0]
        self.flat_shape = encoder.flat_shape
        widths = [in_features, *reversed(hidden_dims)]
        self.dense = nn.Sequential(mlp(widths, activation),
                                   nn.Linear(widths[-1], math.prod(self.flat_shape)),
                                   activation_layer(activation))
        stage_channels = [m.in_channels for m in encoder.stages if isinstance(m, nn.Conv2d)]
        # The encoder's widths in reverse, ending at the likelihood's parameters: the last
        # transposed convolution writes the output, so no layer runs a wide feature map at
        # full resolution (the earlier 32->32 stage and head there: 2.2x slower training at
        # 28x28; benchmarks/conv_speed.py).
        chans = [self.flat_shape[0], *reversed(stage_channels[1:]), c * n_params]
        sizes = list(reversed(encoder.sizes))  # from the smallest back to the input size
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            # A stride-2 transposed conv maps s to 2s - 1 + output_padding: pick the padding
            # that lands exactly on the encoder's size at this depth.
            (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i + 1]
            padding = (h_out - 2 * h_in + 1, w_out - 2 * w_in + 1)
            layers.append(nn.ConvTranspose2d(chans[i], chans[i + 1], 3, stride=2, padding=1,
                                             output_padding=padding))
            if i < len(sizes) - 2:
                layers.append(activation_layer(activation))
        # An image already at most 4 pixels on a side has no stage: a convolution maps it.
        self.stages = nn.Sequential(*layers) if layers else nn.Conv2d(chans[0], c * n_params, 3, padding=1)
        self.sample_shape, self.n_params = tuple(sample_shape), n_params

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.dense(z.reshape(-1, z.shape[-1])).view(-1, *self.flat_shape)
        out = self.stages(h)
        if self.n_params == 1:
            return out.view(*lead, *self.sample_shape)
        out = out.view(-1, self.n_params, *self.sample_shape).movedim(1, -1)
        return out.reshape(*lead, *self.sample_shape, self.n_params)


def make_networks(kind: str, sample_shape: tuple[int, ...], hidden_dims: tuple[int, ...],
                  activation: str, decoder_in: int, n_params: int,
                  conv_channels: tuple[int, ...] = DEFAULT_CONV_CHANNELS):
    """Build (encoder, decoder); ``decoder_in`` is the code size plus any conditioning."""
    hidden_dims = list(hidden_dims)
    if kind == "mlp":
        return (MLPEncoder(sample_shape, hidden_dims, activation),
                MLPDecoder(sample_shape, hidden_dims, activation, decoder_in, n_params))
    if kind in ("conv", "resnet") and len(sample_shape) != 3:
        raise ValueError(f"{kind} networks need images (C, H, W), got sample shape {sample_shape}")
    if kind == "conv":
        encoder = ConvEncoder(sample_shape, hidden_dims, activation, conv_channels)
        return encoder, ConvDecoder(encoder, sample_shape, hidden_dims, activation,
                                    decoder_in, n_params)
    if kind in ("resnet", "temporal"):
        two_d = kind == "resnet"
        in_shape = sample_shape if two_d else sequence_shape(sample_shape)
        encoder = ResidualEncoder(in_shape, hidden_dims, activation, conv_channels,
                                  dims=2 if two_d else 1)
        return encoder, ResidualDecoder(encoder, sample_shape, hidden_dims, activation,
                                        decoder_in, n_params)
    raise ValueError(f"network must be one of {KINDS}, got {kind!r}")
