"""One training batch: this process's rows of a global batch, preprocessed, with its noise.

Noise (binarisation, corruption, the codes' reparameterisation) is drawn for the whole global
batch and then sliced, so that each row gets the same noise whatever the number of processes
(see ``_distributed``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._distributed import Group
from ..model import AutoencoderNet
from ..nn.corruption import corrupt
from .config import TrainConfig


@dataclass
class Batch:
    x: torch.Tensor  # the clean input, preprocessed
    corrupted: torch.Tensor | None  # what the encoder sees (None: the clean input)
    y: torch.Tensor | None  # label indices
    eps: torch.Tensor | None  # the codes' noise


def noisy_inputs(model: AutoencoderNet, config: TrainConfig) -> bool:
    return config.binarize or model.config.corruption.kind != "none"


def rows_wanted(model: AutoencoderNet, config: TrainConfig, group: Group, idx: torch.Tensor) -> torch.Tensor:
    """The rows this process reads for a global batch ``idx``: its own, or all of them when the
    inputs get noise (drawn for the whole batch)."""
    return idx if noisy_inputs(model, config) else idx[group.rows(len(idx))]


def make_batch(model: AutoencoderNet, raw: torch.Tensor, y: torch.Tensor | None, idx: torch.Tensor,
               preprocess, config: TrainConfig, group: Group) -> Batch:
    """The batch of global rows ``idx`` from ``raw``, the rows :func:`rows_wanted` read."""
    device = next(model.parameters()).device
    rows = group.rows(len(idx))
    xb = preprocess(raw)
    if config.binarize:  # dynamic binarisation: every epoch sees new binary images
        xb = torch.bernoulli(xb.clamp(0, 1))  # (rounding may put the extremes a hair outside)
    x_in = corrupt(xb, model.config.corruption) if model.config.corruption.kind != "none" else None
    if noisy_inputs(model, config):
        xb, x_in = xb[rows], None if x_in is None else x_in[rows]
    # Streamed rows keep their batch order on the CPU while resident labels sit on the device.
    yb = None if y is None else y.index_select(0, idx[rows].to(y.device)).to(device, non_blocking=True)
    return Batch(xb, x_in, yb, code_noise(model, len(idx), rows, device))


def code_noise(model: AutoencoderNet, n: int, rows: slice, device) -> torch.Tensor | None:
    """The reparameterisation noise of a global batch of n inputs, sliced to ``rows``."""
    if not model.stochastic:
        return None
    k, latent = model.config.objective.importance_samples, model.config.latent_dim
    return torch.randn(k, n, latent, device=device)[:, rows]
