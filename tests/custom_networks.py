"""Network factories a user might write: importable by path, as aekit saves them."""

from torch import nn


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(4, channels),
                                  nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def small_resnet_encoder(sample_shape, width=8):
    c, h, w = sample_shape
    return nn.Sequential(nn.Conv2d(c, width, 3, padding=1), Residual(width), nn.SiLU(),
                         nn.Flatten(), nn.Linear(width * h * w, 32), nn.SiLU())


def small_resnet_decoder(sample_shape, in_features, n_params, width=8):
    c, h, w = sample_shape
    return nn.Sequential(nn.Linear(in_features, width * h * w), nn.Unflatten(1, (width, h, w)),
                         Residual(width), nn.SiLU(), nn.Conv2d(width, c * n_params, 3, padding=1),
                         nn.Unflatten(1, (c, n_params)) if n_params > 1 else nn.Identity(),
                         _ChannelsLast() if n_params > 1 else nn.Identity())


class _ChannelsLast(nn.Module):  # (n, C, P, H, W) -> (n, C, H, W, P)
    def forward(self, x):
        return x.movedim(2, -1)


def wrong_encoder(sample_shape):
    return nn.Identity()  # keeps (n, C, H, W): not a feature vector
