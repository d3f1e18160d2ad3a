"""Choice 2, the networks: an encoder to a feature vector and a decoder back to data.

``mlp`` serves vectors (and flattened images); ``conv`` serves images ``(C, H, W)`` of any
size. The convolutional encoder halves the resolution with stride-2 convolutions until the
smaller side is at most 4; the decoder records those sizes and undoes them exactly with
transposed convolutions, so odd sizes such as 28 -> 14 -> 7 -> 4 -> 7 -> 14 -> 28 round-trip.
"""

from __future__ import annotations

import math
from itertools import pairwise

from torch import nn

KINDS = ("mlp", "conv")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
               "leaky_relu": nn.LeakyReLU, "linear": nn.Identity}
DEFAULT_CONV_CHANNELS = (32, 64, 128, 256)


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _mlp(widths: list[int], activation: str) -> nn.Sequential:
    """Linear layers between consecutive widths, each followed by the activation."""
    layers: list[nn.Module] = []
    for w_in, w_out in pairwise(widths):
        layers += [nn.Linear(w_in, w_out), _activation(activation)]
    return nn.Sequential(*layers)


def conv_stage_sizes(height: int, width: int, max_stages: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 stage, starting with the input's."""
    sizes = [(height, width)]
    while min(sizes[-1]) > 4 and len(sizes) <= max_stages:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


class MLPEncoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation):
        super().__init__()
        self.body = _mlp([math.prod(sample_shape), *hidden_dims], activation)
        self.out_features = hidden_dims[-1] if hidden_dims else math.prod(sample_shape)

    def forward(self, x):
        return self.body(x.flatten(start_dim=1))


class MLPDecoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation, in_features, n_params):
        super().__init__()
        widths = [in_features, *reversed(hidden_dims)]
        self.body = _mlp(widths, activation)
        self.head = nn.Linear(widths[-1], math.prod(sample_shape) * n_params)
        self.out_shape = (*sample_shape, n_params) if n_params > 1 else tuple(sample_shape)

    def forward(self, z):
        h = self.head(self.body(z))
        return h.view(*z.shape[:-1], *self.out_shape)


class ConvEncoder(nn.Module):
    def __init__(self, sample_shape, hidden_dims, activation, channels):
        super().__init__()
        c, h, w = sample_shape
        self.sizes = conv_stage_sizes(h, w, len(channels))
        chans = [c, *channels[: len(self.sizes) - 1]]
        stages: list[nn.Module] = []
        for c_in, c_out in pairwise(chans):
            stages += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), _activation(activation)]
        self.stages = nn.Sequential(*stages)
        self.flat_shape = (chans[-1], *self.sizes[-1])
        self.dense = _mlp([math.prod(self.flat_shape), *hidden_dims], activation)
        self.out_features = hidden_dims[-1] if hidden_dims else math.prod(self.flat_shape)

    def forward(self, x):
        return self.dense(self.stages(x).flatten(start_dim=1))


class ConvDecoder(nn.Module):
    def __init__(self, encoder: ConvEncoder, sample_shape, hidden_dims, activation,
                 in_features, n_params):
        super().__init__()
        c = sample_shape[0]
        self.flat_shape = encoder.flat_shape
        widths = [in_features, *reversed(hidden_dims)]
        self.dense = nn.Sequential(_mlp(widths, activation),
                                   nn.Linear(widths[-1], math.prod(self.flat_shape)),
                                   _activation(activation))
        stage_channels = [m.in_channels for m in encoder.stages if isinstance(m, nn.Conv2d)]
        chans = [self.flat_shape[0], *reversed(stage_channels[1:])]
        sizes = list(reversed(encoder.sizes))  # from the smallest back to the input size
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):  # the last stage keeps its width
            c_in, c_out = chans[i], chans[min(i + 1, len(chans) - 1)]
            # A stride-2 transposed conv maps s to 2s - 1 + output_padding: pick the padding
            # that lands exactly on the encoder's size at this depth.
            (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i + 1]
            padding = (h_out - 2 * h_in + 1, w_out - 2 * w_in + 1)
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                          output_padding=padding), _activation(activation)]
        self.stages = nn.Sequential(*layers)
        self.head = nn.Conv2d(chans[-1], c * n_params, 3, padding=1)
        self.sample_shape, self.n_params = tuple(sample_shape), n_params

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.dense(z.reshape(-1, z.shape[-1])).view(-1, *self.flat_shape)
        out = self.head(self.stages(h))
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
    if kind == "conv":
        if len(sample_shape) != 3:
            raise ValueError(f"conv networks need images (C, H, W), got sample shape {sample_shape}")
        encoder = ConvEncoder(sample_shape, hidden_dims, activation, conv_channels)
        return encoder, ConvDecoder(encoder, sample_shape, hidden_dims, activation,
                                    decoder_in, n_params)
    raise ValueError(f"network must be one of {KINDS}, got {kind!r}")

