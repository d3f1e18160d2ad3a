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
from .stream import RowSource

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ALPHA_POLICIES = ("composite", "drop", "keep")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # Pillow's modes of 16-bit (and 32-bit int) greyscale


def _read(path: Path, size: tuple[int, int] | None = None):
    """One image decoded, reduced on the way towards ``size`` (H, W) when given: memory follows
    the output's size, not the file's (see ``decode_reduced``)."""
    from PIL import Image

    with Image.open(path) as image:
        return decode_reduced(image, size)


def decode_reduced(image, size: tuple[int, int] | None):
    """Decode an opened Pillow ``image``, no larger than needed for a ``size`` (H, W) output.

    JPEGs are decoded at 1/2, 1/4 or 1/8 of their size when that still covers ``size``
    (``draft``: the pixels are never held at full size); other formats are decoded whole and
    at once shrunk by whole factors (``reduce``) to at most twice ``size``, from where the
    bilinear resize finishes. So one image at a time is ever held at its decoded size."""
    if size is not None and image.format == "JPEG" and image.mode in ("L", "RGB", "CMYK", "YCbCr"):
        image.draft(image.mode, (size[1], size[0]))
    image.load()
    if size is None:
        return image.copy()
    factor = min(image.width // (2 * size[1]), image.height // (2 * size[0]))
    if factor >= 2:
        try:
            return image.reduce(factor)
        except (ValueError, NotImplementedError):  # a mode reduce does not handle (palette, 1-bit)
            pass
    return image.copy()


def read_image_folder(folder: Path, channels: int | None = None, size: tuple[int, int] | None = None,
                      skip_bad: bool = False, alpha: str = "composite") -> Dataset:
    """``channels``: 1 (greyscale), 3 (RGB) or None (RGB if any image has colour)."""
    files = _list_images(folder, channels, alpha, size)
    if size is not None:  # known before decoding: refuse an impossible size at once
        require_memory(len(files) * 4 * 4 * size[0] * size[1],
                       f"{len(files):,} images of {size[0]}x{size[1]}", "choose a smaller --size")
    # Headers first (every image's size and mode settle the samples' shape), then each image
    # decoded and converted in turn: one decoded image is held at a time, never the folder's.
    headers, kept = _open_all(folder, files, skip_bad, verify=skip_bad)
    plan = _Plan.of(headers, kept, folder, channels, size, alpha)
    require_memory(len(headers) * plan.n_channels * plan.height * plan.width * plan.dtype.itemsize,
                   f"{len(headers):,} images of {plan.height}x{plan.width}", "choose a smaller --size")
    X = np.empty((len(headers), *plan.sample_shape), dtype=plan.dtype)
    for i, path in enumerate(kept):
        X[i] = plan.convert(_decode(path, plan, headers[i]))
    y, ids = _labels_and_ids(folder, kept)
    return Dataset(X, y, folder.name, ids=ids)


def _decode(path: Path, plan: _Plan, header: _Header):
    """The pixels of an image whose header was read earlier; an error naming the file if they
    do not decode, or if the file changed since (its size, time or identity on disk)."""
    from PIL import Image, UnidentifiedImageError

    if header.stat is not None and _identity(path) != header.stat:
        raise InvalidInputError(f"{path} changed after it was first read (it was rewritten during the "
                                "run); restore it, or start again so that every image is read afresh")
    try:
        image = _read(path, plan.size)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(f"{path}: unreadable image ({exc}); fix or remove it, or pass "
                                "skip_bad=True (--skip-bad) to skip such files") from exc
    if plan.size is None and (image.height, image.width) != (plan.height, plan.width):
        raise InvalidInputError(f"{path} is now {image.height}x{image.width}, not "
                                f"{plan.height}x{plan.width}: it changed during the run")
    return image


def _identity(path: Path):
    """What tells a file rewritten in place from the one first read: size, times, inode."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class ImageFolderRows(RowSource):
    """A folder of images decoded a batch at a time (``aekit.data.stream``): one pass reads every
    image's header (size, mode, transparency) to settle the sample shape as
    :func:`read_image_folder` would; each batch then decodes its own images. ``workers`` > 0
    decodes in that many worker processes; else two threads decode ahead of training.
    ``skip_bad`` decodes every image in that first pass, skipping (and counting) those whose
    pixels fail; without it, an image that fails later stops the run, naming the file."""

    thread_safe = True  # each read opens its own files

    def __init__(self, folder, channels: int | None = None, size: tuple[int, int] | None = None,
                 skip_bad: bool = False, alpha: str = "composite", workers: int = 0):
        folder = Path(folder)
        files = _list_images(folder, channels, alpha, size)
        # With skip_bad every image is decoded once here, so that one whose pixels are broken
        # is skipped (and counted) before training rather than found in the middle of an epoch.
        self.headers, self.files = _open_all(folder, files, skip_bad, verify=skip_bad)
        self.plan = _Plan.of(self.headers, self.files, folder, channels, size, alpha)
        self.name, self.workers = folder.name, workers
        self.dtype, self.native_shape = self.plan.dtype, self.plan.sample_shape
        self.sample_shape = self.native_shape
        self.labels, self.ids = _labels_and_ids(folder, self.files)

    def __len__(self) -> int:
        return len(self.files)

    def _take(self, indices: np.ndarray) -> np.ndarray:
        # Each image's header was read when the folder was opened; its pixels are decoded now
        # (--skip-bad decodes every image up front instead, to skip those that fail).
        out = np.empty((len(indices), *self.native_shape), dtype=self.dtype)
        for row, i in enumerate(indices.tolist()):
            out[row] = self.plan.convert(_decode(self.files[i], self.plan, self.headers[i]))
        return out


def _list_images(folder: Path, channels, alpha: str, size) -> list[Path]:
    if channels not in (None, 1, 3):
        raise InvalidInputError(f"channels must be 1 or 3, got {channels!r}")
    if alpha not in ALPHA_POLICIES:
        raise InvalidInputError(f"alpha must be one of {ALPHA_POLICIES}, got {alpha!r}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(f"{folder}: no PNG, JPEG or BMP images in this folder or below")
    return files


def _open_all(folder: Path, files: list[Path], skip_bad: bool, verify: bool = False):
    """Every image's header (read after checking that its pixels decode if ``verify``), and the
    paths of those that opened; an unreadable one is an error, or skipped and counted with
    ``skip_bad``."""
    from PIL import Image, UnidentifiedImageError

    images, kept, bad = [], [], []
    for path in files:
        try:
            images.append(_header(path, verify))
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
                      f"(first: {bad[0].relative_to(folder)})", stacklevel=3)
    return images, kept


def _header(path: Path, verify: bool = False):
    """The image's size, mode and transparency, without keeping its pixels (without decoding
    them unless ``verify``: a file can have a sound header and broken pixels)."""
    from PIL import Image

    stat = _identity(path)
    with Image.open(path) as image:  # open reads the header only
        if verify:
            image.load()
        return _Header(image.size, image.mode, dict(image.info), stat)


class _Header:
    """What ``_Plan.of`` reads of an image: its size, mode and info (transparency), and the
    file's identity on disk when it was read."""

    def __init__(self, size, mode, info, stat=None):
        self.size, self.mode, self.info, self.stat = size, mode, info, stat
        self.width, self.height = size


class _Plan:
    """How every image of a folder becomes a sample: channels, bit depth, size."""

    def __init__(self, colour: bool, translucent: bool, deep: bool, height: int, width: int,
                 size, alpha: str):
        self.colour, self.translucent, self.deep = colour, translucent, deep
        self.height, self.width, self.size, self.alpha = height, width, size, alpha
        self.n_channels = (3 if colour else 1) + (1 if translucent else 0)
        self.sample_shape = (self.n_channels, height, width)
        self.dtype = np.dtype(np.float32 if deep else np.uint8)

    @classmethod
    def of(cls, images, paths: list[Path], folder: Path, channels, size, alpha: str) -> _Plan:
        colour = channels == 3 or (channels is None and any(_has_colour(im) for im in images))
        translucent = alpha == "keep" and any(_has_alpha(im) for im in images)
        deep = any(im.mode in _SIXTEEN_BIT for im in images)
        if size is None:
            odd = next((i for i, im in enumerate(images) if im.size != images[0].size), None)
            if odd is not None:
                describe = lambda i: f"{paths[i].relative_to(folder)} is {images[i].height}x{images[i].width}"
                raise InvalidInputError(f"{folder}: images differ in size ({describe(0)}, {describe(odd)}); "
                                        "pass size=(H, W) (--size HxW) to resize them")
            height, width = images[0].height, images[0].width
        else:
            height, width = size
        return cls(colour, translucent, deep, height, width, size, alpha)

    def convert(self, image) -> np.ndarray:
        return _to_array(image, self.colour, self.translucent, self.alpha, self.deep, self.size)


def image_array(image, channels: int, size: tuple[int, int]) -> np.ndarray:
    """One Pillow image as a model of ``channels`` (1 or 3, plus 1 when it kept the alpha
    channel) and ``size`` (H, W) reads it: (C, H, W) uint8, transparency laid over white unless
    the alpha channel is one of the channels, as ``read_image_folder`` makes its samples; values
    in 0-255 (float32, so that a 16-bit image keeps its precision)."""
    if channels not in (1, 2, 3, 4):
        raise InvalidInputError(f"a model of {channels}-channel images cannot read an image file")
    keep_alpha = channels in (2, 4)
    values = _to_array(image, colour=channels >= 3, keep_alpha=keep_alpha,
                       alpha="keep" if keep_alpha else "composite", deep=False, size=size)
    return values.astype(np.float32) * (255 if values.dtype.kind == "f" else 1)


def _labels_and_ids(folder: Path, kept: list[Path]):
    """Labels from the top-level sub-folders when every image sits in one; ids: relative paths."""
    relative = [p.relative_to(folder) for p in kept]
    labelled = all(len(r.parts) > 1 for r in relative)
    y = np.asarray([r.parts[0] for r in relative]) if labelled else None
    return y, np.asarray([str(r) for r in relative])


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
