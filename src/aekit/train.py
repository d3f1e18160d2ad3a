"""The training loop: in-memory tensors, index-slice batches, checkpoints, resume, early stopping.

Reproducibility: a run draws all its randomness (initial weights, batch order, corruption,
reparameterisation noise) from a seed under ``torch.random.fork_rng``, so the same
``random_state`` gives identical weights on CPU and the caller's global RNG is untouched.
A checkpoint holds both RNG states, so a run killed after epoch e and resumed continues
exactly as if it had never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import checkpoint
from .errors import TrainingDivergedError
from .model import AutoencoderNet

PRECISIONS = ("auto", "fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; built by the estimators from parameters they have already validated."""

    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    validation_fraction: float = 0.1
    patience: int | None = 10  # epochs without validation improvement before stopping
    precision: str = "auto"
    random_state: int = 0
    verbose: int = 1
    binarize: bool = False  # train on a fresh Bernoulli draw of each [0, 1] batch


# bf16 autocast runs matrix products on the CPU's AMX units: 1.7-2.4x faster training where one
# weight matrix is large (784x400 dense: 313k entries; the conv nets' 2048x256 dense: 524k), but
# 10-23% slower for small MLPs (<= 33k entries), where casts cost more than they save
# (benchmarks/precision.py, docs/benchmarks.md). A structural rule, not a timing trial at fit
# time, so that the same random_state always trains in the same precision to the same weights.
BF16_MIN_WEIGHT_ENTRIES = 200_000


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, the units that made bf16 fast in that measurement. Without
    them bf16 autocast is emulated: on an AVX2-only CPU (the 2-core machine of 2026-11-22) every
    case of `python benchmarks/precision.py --quick` trained 4-17x slower in bf16 than in fp32."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own check (private)
    return bool(probe and probe())


def use_bf16(precision: str, model: AutoencoderNet) -> bool:
    """Whether to train under bf16 autocast. "auto": on a CPU with AMX, by the largest weight
    matrix (measured, above), else fp32; on a CUDA GPU, wherever the GPU supports bf16 (Ampere and later: its
    tensor cores); elsewhere (Apple's MPS) fp32."""
    if precision != "auto":
        return precision == "bf16"
    device = next(model.parameters()).device
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not cpu_has_amx():
        return False
    largest = max((p.numel() for name, p in model.named_parameters() if name.endswith("weight")),
                  default=0)
    return largest >= BF16_MIN_WEIGHT_ENTRIES


def _fingerprint(model: AutoencoderNet, config: TrainConfig, X: torch.Tensor,
                 y: torch.Tensor | None) -> str:
    """Identifies a run's settings and every byte of its data (and labels), so a checkpoint is
    only resumed by its own run. Hashing is ~1 GB/s: a small cost once per fit."""
    settings = {**asdict(config), "verbose": None}  # a quieter resume is the same run
    h = hashlib.sha256(json.dumps([model.config.to_dict(), settings], sort_keys=True).encode())
    for tensor in (X, y):
        if tensor is None:
            continue
        h.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        flat = np.ascontiguousarray(tensor.numpy()).reshape(-1).view(np.uint8)
        for start in range(0, len(flat), 1 << 26):
            h.update(flat[start:start + (1 << 26)])
    return h.hexdigest()


def _split(n: int, fraction: float, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    n_val = int(n * fraction)
    if n_val < 1 or n - n_val < 1:
        return perm, perm[:0]
    return perm[n_val:], perm[:n_val]


# How often the loop looks at the loss on the host. Reading a value from an accelerator waits
# for all queued work, so the loop records each step's loss terms on the device and inspects
# them every CHECK_EVERY steps and at the end of each epoch; a non-finite loss is still reported
# at the first step where it occurred.
CHECK_EVERY = 25


def fit(model: AutoencoderNet, X: torch.Tensor, y: torch.Tensor | None, preprocess,
        config: TrainConfig, checkpoint_path: str | Path | None = None,
        resume: bool = False) -> checkpoint.TrainState:
    """Train ``model`` in place on raw data ``X`` (preprocessed per batch by ``preprocess``).

    ``X`` and ``y`` may live on the model's device (resident data) or on the CPU (each batch is
    copied over). Call inside ``torch.random.fork_rng`` after seeding (the estimators do).
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(config.random_state)  # batch order: on the CPU
    train_idx, val_idx = _split(len(X), config.validation_fraction, generator)
    # The fused kernel updates all parameters in one pass instead of several kernels per tensor.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    bf16 = use_bf16(config.precision, model)
    objective = model.config.objective
    state, best_weights = checkpoint.TrainState(), None
    fingerprint = ""
    if checkpoint_path:
        fingerprint = _fingerprint(model, config, X.cpu(), None if y is None else y.cpu())
    if resume and checkpoint_path and Path(checkpoint_path).exists():
        state, best_weights = checkpoint.load(Path(checkpoint_path), fingerprint, model, optimizer,
                                              generator, config.epochs, steps_per_epoch)

    state.precision = "bf16" if bf16 else "fp32"
    sizes = torch.full((steps_per_epoch,), float(config.batch_size), dtype=torch.float64, device=device)
    sizes[-1] = len(train_idx) - config.batch_size * (steps_per_epoch - 1)
    bar = tqdm(total=total_steps, initial=state.global_step, unit="step", leave=False,
               disable=True if config.verbose == 0 else None, dynamic_ncols=True)
    for epoch in range(state.epoch, config.epochs):
        if state.stopped_early:
            break
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)].to(X.device)
        bar.set_description(f"epoch {epoch + 1}/{config.epochs}")
        terms = torch.zeros(steps_per_epoch, 3, dtype=torch.float64, device=device)  # loss, NLL, KL
        t0, checked = time.perf_counter(), 0
        for step in range(steps_per_epoch):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            lr = _learning_rate(config, state.global_step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            progress = epoch + step / steps_per_epoch
            kl_weight = min(1.0, progress / objective.kl_warmup_epochs) if objective.kl_warmup_epochs else 1.0
            # index_select, not X[idx]: advanced indexing's generic kernel is ~10x slower here.
            xb = preprocess(X.index_select(0, idx).to(device, non_blocking=True))
            if config.binarize:  # dynamic binarisation: every epoch sees new binary images
                xb = torch.bernoulli(xb)
            yb = None if y is None else y.index_select(0, idx).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = model(xb, yb, k=objective.importance_samples, kl_weight=kl_weight,
                            train_corruption=True)
            terms[step] = torch.stack([out.loss.detach(), out.nll.detach().mean(), out.kl.detach().mean()])
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            state.global_step += 1
            bar.update()
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps_per_epoch:
                _check_finite(terms, checked, step + 1, epoch)
                checked = step + 1
                rate = (step + 1) * config.batch_size / (time.perf_counter() - t0)
                bar.set_postfix(loss=f"{terms[step, 0].item():.4g}", samples_s=f"{rate:,.0f}", refresh=False)

        state.epoch = epoch + 1
        state.history["train_loss"].append(float((terms[:, 0] * sizes).sum().item() / len(train_idx)))
        state.history["lr"].append(lr)
        if len(val_idx):
            val_x = X.index_select(0, val_idx.to(X.device))
            val_y = None if y is None else y.index_select(0, val_idx.to(y.device))
            val = evaluate_loss(model, val_x, val_y, preprocess)
            state.history["val_loss"].append(val)
            bar.set_postfix(loss=f"{state.history['train_loss'][-1]:.4g}", val=f"{val:.4g}",
                            samples_s=f"{len(train_idx) / (time.perf_counter() - t0):,.0f}")
            if not math.isfinite(state.best_val) or val < state.best_val - 1e-6 * abs(state.best_val):
                state.best_val, state.bad_epochs = val, 0
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                state.bad_epochs += 1
                state.stopped_early = config.patience is not None and state.bad_epochs >= config.patience
        if checkpoint_path:
            checkpoint.save(Path(checkpoint_path), fingerprint, model, optimizer, generator,
                            state, best_weights)
    bar.close()
    if best_weights is not None:  # end on the weights that generalised best
        model.load_state_dict(best_weights)
    model.eval()
    return state


def _check_finite(terms: torch.Tensor, start: int, stop: int, epoch: int) -> None:
    """Raise for the first step in [start, stop) whose loss was not finite (one host read)."""
    window = terms[start:stop].cpu()
    bad = (~torch.isfinite(window[:, 0])).nonzero()
    if len(bad):
        step = start + int(bad[0])
        loss, nll, kl = window[step - start].tolist()
        raise TrainingDivergedError(
            f"loss became {loss} at epoch {epoch + 1}, step {step + 1} "
            f"(reconstruction NLL {nll:.4g}, KL {kl:.4g}). "
            "Try a lower learning_rate, scaled inputs (scaler='auto'), or a smaller beta.")


def _learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    if config.lr_schedule == "constant":
        return config.learning_rate
    # Cosine decay to 1% of the initial rate: large steps early, fine-tuning late.
    progress = min(1.0, step / max(1, total_steps))
    return config.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.inference_mode()
def evaluate_loss(model: AutoencoderNet, X, y, preprocess) -> float:
    """Mean objective (at full KL weight, no corruption) over ``X``, in large batches."""
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64, device=device)
    k = model.config.objective.importance_samples
    batch_size = model.inference_batch_size(k)
    for start in range(0, len(X), batch_size):
        xb = preprocess(X[start:start + batch_size].to(device, non_blocking=True))
        yb = None if y is None else y[start:start + batch_size].to(device, non_blocking=True)
        total += model(xb, yb, k=k).loss.double() * len(xb)
    return total.item() / len(X)
