"""Choice 1, corruption: what the encoder sees during training.

A denoising autoencoder is rewarded for rebuilding the *clean* input from a corrupted one, so
the corruption is applied to the encoder's input only, and only in training mode. All
corruptions act on preprocessed data (images in [0, 1], tables standardised), where 0 is a
neutral "missing" value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

KINDS = ("none", "gaussian", "salt_pepper", "mask", "greyscale")
MASK_MODES = ("pixels", "patches", "features")


@dataclass(frozen=True)
class CorruptionConfig:
    """Which corruption, and how strong.

    ``level`` is the noise standard deviation for ``gaussian``, the fraction of entries
    flipped for ``salt_pepper`` and the fraction masked for ``mask``.
    """

    kind: str = "none"
    level: float = 0.0
    mask_mode: str = "pixels"
    patch_size: int = 4

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"corruption must be one of {KINDS}, got {self.kind!r}")
        if self.mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {MASK_MODES}, got {self.mask_mode!r}")
        if self.level < 0 or (self.kind in ("salt_pepper", "mask") and self.level > 1):
            raise ValueError(f"corruption level {self.level} is out of range for {self.kind!r}")
        if self.patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {self.patch_size}")


def corrupt(x: torch.Tensor, config: CorruptionConfig) -> torch.Tensor:
    """Return a corrupted copy of the batch ``x`` (shape ``(n, *sample_shape)``)."""
    if config.kind == "none":
        return x
    if config.kind == "gaussian":
        return x + config.level * torch.randn_like(x)
    if config.kind == "salt_pepper":
        flip = torch.rand_like(x) < config.level
        salt = torch.rand_like(x) < 0.5
        lo, hi = x.amin(), x.amax()
        return torch.where(flip, torch.where(salt, hi, lo), x)
    if config.kind == "mask":
        return x * _keep_mask(x, config)
    return _greyscale(x)


def _keep_mask(x: torch.Tensor, config: CorruptionConfig) -> torch.Tensor:
    """1 where the entry survives, 0 where it is masked."""
    is_image = x.dim() == 4
    if config.mask_mode == "features" or not is_image:
        return (torch.rand_like(x) >= config.level).to(x.dtype)
    n, _, h, w = x.shape
    like_x = {"dtype": x.dtype, "device": x.device}
    if config.mask_mode == "pixels":
        # One draw per pixel so that all channels of a pixel vanish together.
        return (torch.rand(n, 1, h, w, **like_x) >= config.level).to(x.dtype)
    # Patches: a coarse grid of cells, each masked with probability `level`, upsampled.
    p = config.patch_size
    cells = (torch.rand(n, 1, -(-h // p), -(-w // p), **like_x) >= config.level).to(x.dtype)
    return cells.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)[:, :, :h, :w]


def _greyscale(x: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma, repeated over the channels: the input of a colourisation model."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError("greyscale corruption needs RGB images of shape (n, 3, H, W)")
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True).expand_as(x)
