"""Restoring damaged inputs with a model trained on that damage: denoise, inpaint, colourise.

The damage is applied exactly as in training (``aekit.nn.corruption``), on preprocessed data,
then mapped back to the data's units. Quality is PSNR and SSIM against the clean input, for the
damaged input, the model's restoration and a classical filter, so "better" has two baselines.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import denoise_nl_means, inpaint_biharmonic

from ..errors import InvalidInputError
from ..nn.corruption import CorruptionConfig, corrupt

TASK_CORRUPTIONS = {"denoise": ("gaussian", "salt_pepper"), "inpaint": ("mask",), "colourise": ("greyscale",)}
CLASSICAL = {"gaussian": "non-local means", "salt_pepper": "median filter (3x3)",
             "mask": "biharmonic inpainting", "greyscale": "none (the greyscale input)"}


def damage(model, X, config: CorruptionConfig, random_state: int = 0):
    """Corrupt ``X`` as ``config`` says; returns (damaged X in data units, mask of damaged entries)."""
    X = np.asarray(X)
    samples = np.ascontiguousarray(X).reshape(len(X), *model.sample_shape_)
    data = model.scaler_.transform(torch.from_numpy(samples))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        damaged = corrupt(data, config)
    mask = (damaged != data).numpy().reshape(X.shape)
    return model.scaler_.inverse(damaged).numpy().reshape(X.shape), mask


def classical(damaged: np.ndarray, kind: str, mask: np.ndarray, noise_std: float) -> np.ndarray:
    """The classical baseline for each damage, image by image (images (n, C, H, W) or (n, H, W)).

    Non-local means is told the true noise level (``noise_std``, in data units): an oracle
    advantage, so the baseline is at its best.
    """
    if kind == "greyscale":
        return damaged.copy()
    out = np.empty(damaged.shape, dtype=np.float64)
    for i, image in enumerate(damaged.astype(np.float64)):
        grey = image.ndim == 2 or image.shape[0] == 1
        # scikit-image wants (H, W) or (H, W, C); single-channel images go in as (H, W)
        work = image.reshape(image.shape[-2:]) if grey else np.moveaxis(image, 0, -1)
        colour = {} if grey else {"channel_axis": -1}
        if kind == "gaussian":
            small = min(work.shape[:2]) <= 16  # 8x8 digits: the default 7x7 patches see the whole image
            result = denoise_nl_means(work, patch_size=3 if small else 7, patch_distance=2 if small else 11,
                                      h=0.8 * noise_std, sigma=noise_std, fast_mode=True, **colour)
        elif kind == "salt_pepper":
            result = ndimage.median_filter(work, size=3 if grey else (3, 3, 1))
        else:  # mask: fill the masked pixels from their surroundings
            where = mask[i].reshape(work.shape[:2]) if grey else np.moveaxis(mask[i], 0, -1).any(axis=-1)
            result = inpaint_biharmonic(work, where, **colour)
        out[i] = result.reshape(image.shape) if grey else np.moveaxis(result, -1, 0)
    return out


def _luma(images: np.ndarray) -> np.ndarray:
    """BT.601 luma of (n, 3, H, W) images, kept as (n, 1, H, W) to broadcast over channels."""
    weights = np.array([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
    return (images * weights).sum(axis=1, keepdims=True)


def quality(clean: np.ndarray, candidate: np.ndarray, data_range: float) -> dict:
    """Mean PSNR (dB) and SSIM over images; SSIM only for images of at least 7x7."""
    psnr, ssim = [], []
    for a, b in zip(clean.astype(np.float64), candidate.astype(np.float64), strict=True):
        psnr.append(peak_signal_noise_ratio(a, b, data_range=data_range))
        if a.ndim >= 2 and min(a.shape[-2:]) >= 7:
            colour = {"channel_axis": 0} if a.ndim == 3 else {}
            ssim.append(structural_similarity(a, b, data_range=data_range, **colour))
    result = {"psnr_db": float(np.mean(psnr))}
    if ssim:
        result["ssim"] = float(np.mean(ssim))
    return result


def restore_and_compare(model, X, task: str, level: float | None = None, mask_mode: str | None = None,
                        patch_size: int | None = None, random_state: int = 0) -> dict:
    """Damage clean ``X``, restore it with ``model``, and compare with the classical baseline."""
    if task not in TASK_CORRUPTIONS:
        raise InvalidInputError(f"task must be one of {tuple(TASK_CORRUPTIONS)}, got {task!r}")
    trained = model.corruption_
    kind = trained.kind if trained.kind in TASK_CORRUPTIONS[task] else TASK_CORRUPTIONS[task][0]
    if trained.kind != kind:
        raise InvalidInputError(f"this model was trained with corruption={trained.kind!r}; {task} needs a "
                                f"model trained on {' or '.join(TASK_CORRUPTIONS[task])} "
                                f"(e.g. aekit train --model dae --corruption {kind})")
    config = CorruptionConfig(kind, trained.level if level is None else level,
                              mask_mode or trained.mask_mode, patch_size or trained.patch_size)
    X = np.asarray(X)
    damaged, mask = damage(model, X, config, random_state)
    restored = model.reconstruct(damaged)
    if kind == "mask":  # inpainting keeps what is known and fills only the holes, as the baseline does
        restored = np.where(mask, restored, damaged)
    elif kind == "greyscale":  # the luminance is known too: the model supplies only the colour
        restored = restored + (_luma(damaged) - _luma(restored))
    data_range = float(X.max() - X.min()) or 1.0
    noise_std = config.level / float(np.mean(model.scaler_.scale))  # preprocessed units -> data units
    baseline = classical(damaged, kind, mask, noise_std)
    return {"corruption": kind, "level": config.level, "damaged": damaged, "restored": restored,
            "classical": baseline, "classical_name": CLASSICAL[kind],
            "quality": {"damaged": quality(X, damaged, data_range),
                        "restored": quality(X, restored, data_range),
                        "classical": quality(X, baseline, data_range)}}
