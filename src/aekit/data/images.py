"""Folders of images (PNG, JPEG, BMP), read recursively with Pillow.

When every image sits in a sub-folder, the top-level sub-folder names become the labels
(``cats/001.png`` -> "cats"). Images are greyscale or RGB (``channels``), resized to ``size``
when given; without ``size`` all images must share one size.

Bit depth: 8-bit images stay uint8. If any image has 16 bits per sample (16-bit greyscale
PNG), every image becomes float32 in [0, 1] (a 16-bit value / 65535, an 8-bit one / 255), so
nothing is clipped. Transparency (``alpha``): "composite" (default) lays each image over white,
as a viewer shows it; "drop" discards the alpha channel; "keep" keeps it as one more channel
(greyscale + alpha, or RGB + alpha).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._memory import require_memory
from ..errors import InvalidInputError
from .dataset import Dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ALPHA_POLICIES = ("composite", "drop", "keep")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # Pillow's modes of 16-bit (and 32-bit int) greyscale


def _read(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.copy()


def read_image_folder(folder: Path, channels: int | None = None, size: tuple[int, int] | None = None,
                      skip_bad: bool = False, alpha: str = "composite") -> Dataset:
    """``channels``: 1 (greyscale), 3 (RGB) or None (RGB if any image has colour)."""
    from PIL import Image, UnidentifiedImageError

    if channels not in (None, 1, 3):
        raise InvalidInputError(f"channels must be 1 or 3, got {channels!r}")
    if alpha not in ALPHA_POLICIES:
        raise InvalidInputError(f"alpha must be one of {ALPHA_POLICIES}, got {alpha!r}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(f"{folder}: no PNG, JPEG or BMP images in this folder or below")
    if size is not None:  # known before decoding: refuse an impossible size at once
        require_memory(len(files) * 4 * 4 * size[0] * size[1],
                       f"{len(files):,} images of {size[0]}x{size[1]}", "choose a smaller --size")
    images, kept, bad = [], [], []
    for path in files:
        try:
            images.append(_read(path))
            kept.append(path)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            if not skip_bad:
                raise InvalidInputError(f"{path}: unreadable image ({exc}); remove it, or pass "
                                        "skip_bad=True (--skip-bad) to skip such files") from exc
            bad.append(path)
    if not images:
        raise InvalidInputError(f"{folder}: none of the {len(files)} images could be read")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) of {len(files)} in {folder} "
                      f"(first: {bad[0].relative_to(folder)})", stacklevel=2)
    colour = channels == 3 or (channels is None and any(_has_colour(im) for im in images))
    translucent = alpha == "keep" and any(_has_alpha(im) for im in images)
    deep = any(im.mode in _SIXTEEN_BIT for im in images)
    if size is None:
        odd = next((i for i, im in enumerate(images) if im.size != images[0].size), None)
        if odd is not None:
            describe = lambda i: f"{kept[i].relative_to(folder)} is {images[i].height}x{images[i].width}"
            raise InvalidInputError(f"{folder}: images differ in size ({describe(0)}, {describe(odd)}); "
                                    "pass size=(H, W) (--size HxW) to resize them")
        height, width = images[0].height, images[0].width
    else:
        height, width = size
    n_channels = (3 if colour else 1) + (1 if translucent else 0)
    require_memory(len(images) * n_channels * height * width * (4 if deep else 1),
                   f"{len(images):,} images of {height}x{width}", "choose a smaller --size")
    X = np.empty((len(images), n_channels, height, width), dtype=np.float32 if deep else np.uint8)
    for i, image in enumerate(images):
        X[i] = _to_array(image, colour, translucent, alpha, deep, size)
    relative = [p.relative_to(folder) for p in kept]
    labelled = all(len(r.parts) > 1 for r in relative)
    y = np.asarray([r.parts[0] for r in relative]) if labelled else None
    return Dataset(X, y, folder.name, ids=np.asarray([str(r) for r in relative]))


def _has_colour(image) -> bool:
    return image.mode not in ("1", "L", "LA", "La", *_SIXTEEN_BIT, "F")


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _to_array(image, colour: bool, keep_alpha: bool, alpha: str, deep: bool, size) -> np.ndarray:
    """One image as (C, H, W): uint8, or float32 in [0, 1] when the folder has 16-bit images."""
    from PIL import Image

    if image.mode in _SIXTEEN_BIT:
        grey = np.asarray(image, dtype=np.float64) / 65535.0  # "I" holds 16-bit PNG values too
        plane = Image.fromarray(grey.astype(np.float32), mode="F")
        if size is not None:
            plane = plane.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        values = np.clip(np.asarray(plane, dtype=np.float32), 0, 1)[None]
        if colour:
            values = np.repeat(values, 3, axis=0)
        return np.concatenate([values, np.ones_like(values[:1])]) if keep_alpha else values
    base, opacity = "RGB" if colour else "L", None
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        if alpha == "composite":
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba).convert(base)
        else:
            image, opacity = rgba.convert(base), rgba.getchannel("A")
    else:
        image = image.convert(base)
    if keep_alpha:
        image = Image.merge(base + "A" if base == "RGB" else "LA",
                            (*image.split(), opacity or Image.new("L", image.size, 255)))
    if size is not None:
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    values = np.asarray(image)
    values = values[None] if values.ndim == 2 else values.transpose(2, 0, 1)
    return values / np.float32(255) if deep else values
