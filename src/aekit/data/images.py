"""Folders of images (PNG, JPEG, BMP), read recursively with Pillow.

When every image sits in a sub-folder, the top-level sub-folder names become the labels
(``cats/001.png`` -> "cats"). Images are greyscale or RGB (``channels``), resized to ``size``
when given; without ``size`` all images must share one size.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .dataset import Dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def read_image_folder(folder: Path, channels: int | None = None, size: tuple[int, int] | None = None,
                      skip_bad: bool = False) -> Dataset:
    """``channels``: 1 (greyscale), 3 (RGB) or None (RGB if any image has colour)."""
    from PIL import Image, UnidentifiedImageError

    if channels not in (None, 1, 3):
        raise InvalidInputError(f"channels must be 1 or 3, got {channels!r}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(f"{folder}: no PNG, JPEG or BMP images in this folder or below")
    images, kept, bad = [], [], []
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                images.append(image.copy())
                kept.append(path)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            if not skip_bad:
                raise InvalidInputError(f"{path}: unreadable image ({exc}); remove it, or pass "
                                        "skip_bad=True (--skip-bad) to skip such files") from exc
            bad.append(path)
    if not images:
        raise InvalidInputError(f"{folder}: none of the {len(files)} images could be read")
    if channels is None:
        channels = 3 if any(im.mode not in ("1", "L", "LA", "I", "I;16", "F") for im in images) else 1
    mode = "RGB" if channels == 3 else "L"
    if size is None:
        odd = next((i for i, im in enumerate(images) if im.size != images[0].size), None)
        if odd is not None:
            describe = lambda i: f"{kept[i].relative_to(folder)} is {images[i].height}x{images[i].width}"
            raise InvalidInputError(f"{folder}: images differ in size ({describe(0)}, {describe(odd)}); "
                                    "pass size=(H, W) (--size HxW) to resize them")
    else:
        images = [im.resize((size[1], size[0]), Image.Resampling.BILINEAR) for im in images]
    X = np.stack([np.asarray(im.convert(mode)) for im in images])
    X = X[:, None] if channels == 1 else X.transpose(0, 3, 1, 2)
    relative = [p.relative_to(folder) for p in kept]
    labelled = all(len(r.parts) > 1 for r in relative)
    y = np.asarray([r.parts[0] for r in relative]) if labelled else None
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) of {len(files)} in {folder} "
                      f"(first: {bad[0].relative_to(folder)})", stacklevel=2)
    return Dataset(np.ascontiguousarray(X), y, folder.name, ids=np.asarray([str(r) for r in relative]))
