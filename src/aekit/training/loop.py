"""The training loop, read top to bottom: batches from a ``BatchFeed``, the step, and what
happens after each epoch (validation, early stopping, checkpoint, callbacks).

Reproducibility: a run draws all its randomness (initial weights, batch order, corruption,
reparameterisation noise) from a seed under ``torch.random.fork_rng``, so the same
``random_state`` gives identical weights on CPU and the caller's global RNG is untouched.
A checkpoint holds both RNG states, so a run killed after epoch e and resumed continues
exactly as if it had never stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from .. import checkpoint
from .._distributed import SINGLE, Group
from ..data.feeding import BatchFeed
from ..data.stream import RowSource
from ..model import AutoencoderNet
from . import fused
from .adam import AdamStep
from .batch import code_noise, make_batch, rows_wanted
from .checks import Progress, StepLosses, fingerprint
from .config import TrainConfig, learning_rate, plan
from .precision import use_bf16

# How often the loop looks at the loss on the host. Reading a value from an accelerator waits
# for all queued work, so the loop keeps each step's loss on the device (``StepLosses``) and
# reads them every CHECK_EVERY steps and at the end of each epoch; a non-finite loss is still
# reported at the first step where it occurred.
CHECK_EVERY = 25
# An epoch improves on the best validation loss when it is lower by more than this share of it
# (early stopping counts the epochs that do not).
MIN_IMPROVEMENT = 1e-6


@dataclass(frozen=True)
class EpochReport:
    """What a callback's ``on_epoch_end`` learns after each epoch (see ``aekit.callbacks``)."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float | None
    learning_rate: float
    samples_per_second: float
    seconds: float
    data_wait_seconds: float = 0.0  # training waited this long for rows read on demand


def fit(model: AutoencoderNet, X: RowSource, y: torch.Tensor | None, preprocess, config: TrainConfig,
        checkpoint_path: str | Path | None = None, resume: bool = False, group: Group = SINGLE,
        callbacks=()) -> checkpoint.TrainState:
    """Train ``model`` in place on the rows ``X`` (preprocessed per batch by ``preprocess``).

    Call inside ``torch.random.fork_rng`` after seeding (the estimators do). In a ``group`` of
    several processes (torchrun), every process passes the same data and seed and trains its
    share of each batch; only the main process writes the checkpoint and calls ``callbacks``
    (``on_epoch_end(EpochReport)``).
    """
    run = _Run(model, X, y, config, checkpoint_path, resume, group)
    net = model if group.size == 1 else DistributedDataParallel(
        model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    objective, bf16 = model.config.objective, use_bf16(config.precision, model)
    run.state.precision = "bf16" if bf16 else "fp32"
    # Plain MLP autoencoders: the step's gradients written out, without autograd (fused.py).
    direct = fused.DirectStep(model) if fused.supports(model, config, group.size) else None
    progress = Progress(config, run, group)
    losses = StepLosses(group, config.batch_size, len(run.epoch_rows))
    for epoch in range(run.state.epoch, run.epochs):
        if run.state.stopped_early:
            break
        model.train()
        steps = run.epoch_batches()
        wanted = [rows_wanted(model, config, group, idx) for idx in steps]  # this process's reads
        run.feed.start_epoch(wanted)
        losses.start_epoch()
        progress.start_epoch(epoch)
        for step, idx in enumerate(steps):
            lr = learning_rate(config, run.state.global_step, run.total_steps)
            for param_group in run.optimizer.param_groups:
                param_group["lr"] = lr
            epochs_done = epoch + step / len(steps)
            batch = make_batch(model, run.feed.next(wanted[step]), run.y, idx, preprocess, config, group)
            if direct:
                out = direct(batch.x, batch.corrupted, batch.eps, objective.kl_weight_at(epochs_done), bf16)
            else:
                with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=bf16):
                    out = net(batch.x, batch.y, k=objective.importance_samples,
                              kl_weight=objective.kl_weight_at(epochs_done), corrupted=batch.corrupted,
                              eps=batch.eps, batch_mean=group.batch_mean(len(idx)),
                              dataset_size=len(run.train_idx), capacity=objective.capacity_at(epochs_done))
                run.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
            losses.add(out)
            run.adam_step()
            run.state.global_step += 1
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == len(steps):
                progress.step(step + 1, losses.check(epoch), run.feed.waited)
        run.end_epoch(epoch, losses.losses, lr, preprocess, progress, callbacks)
    progress.close()
    return run.finish()


class _Run:
    """One fit's state around the loop: the split, the plan, the optimiser, the feed, the
    checkpoint, and the best weights so far."""

    def __init__(self, model, X, y, config: TrainConfig, checkpoint_path, resume: bool, group: Group):
        self.model, self.config, self.group = model, config, group
        self.device = next(model.parameters()).device
        self.feed = BatchFeed(X, self.device, config.batch_size)
        self.y = y
        self.generator = torch.Generator().manual_seed(config.random_state)  # batch order: on the CPU
        self.train_idx, self.val_idx = _split(len(X), config.validation_fraction, self.generator)
        self.epoch_rows = labelled_drawn_more(self.train_idx, y, config.attribute_share)
        # The fused kernel updates all parameters in one pass instead of several kernels per tensor.
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
        self.steps_per_pass = math.ceil(len(self.epoch_rows) / config.batch_size)
        self.plan = plan(config, self.steps_per_pass)
        self.epochs, self.patience = self.plan.epochs, self.plan.patience
        self.steps_per_epoch = self.steps_per_pass * self.plan.passes
        # A stretched run (images, windows) checkpoints as often as an unstretched one would.
        self.checkpoint_every = max(1, self.epochs // config.epochs)
        self.total_steps = self.steps_per_epoch * self.epochs
        self.state, self.best_weights = checkpoint.TrainState(), None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.fingerprint = fingerprint(model, config, X, y) if checkpoint_path else ""
        if resume and self.checkpoint_path and _checkpoint_found(self.checkpoint_path, group):
            self.state, self.best_weights = checkpoint.load(
                self.checkpoint_path, self.fingerprint, model, self.optimizer, self.generator,
                self.epochs, self.steps_per_epoch)
        self.adam_step = AdamStep(self.optimizer)  # after any resumed state is loaded
        if config.compile:
            # The networks hold nearly all the arithmetic; compiling them in place keeps the
            # parameter names (and so model folders and checkpoints) unchanged.
            model.encoder.compile()
            model.decoder.compile()
        sizes = torch.full((self.steps_per_pass,), float(config.batch_size), dtype=torch.float64)
        sizes[-1] = len(self.epoch_rows) - config.batch_size * (self.steps_per_pass - 1)
        self.sizes = sizes.repeat(self.plan.passes)  # rows in each step of an epoch

    def epoch_batches(self) -> list[torch.Tensor]:
        """The global row indices of each of this epoch's batches: its passes, each shuffled."""
        size, batches = self.config.batch_size, []
        for _ in range(self.plan.passes):
            order = self.epoch_rows[torch.randperm(len(self.epoch_rows), generator=self.generator)]
            order = order.to(self.feed.index_device)
            batches += [order[step * size:(step + 1) * size] for step in range(self.steps_per_pass)]
        return batches

    def end_epoch(self, epoch: int, losses: list[float], lr: float, preprocess, progress: Progress,
                  callbacks) -> None:
        data_wait = self.feed.end_epoch()
        state, history = self.state, self.state.history
        state.epoch = epoch + 1
        weighted = torch.tensor(losses, dtype=torch.float64) * self.sizes
        samples = float(self.sizes.sum())
        history["train_loss"].append(float(weighted.sum().item() / samples))
        history["lr"].append(lr)
        if len(self.val_idx):
            val = evaluate_loss(self.model, self.feed, self.y, preprocess, self.group, rows=self.val_idx)
            history["val_loss"].append(val)
            progress.validated(history["train_loss"][-1], val, samples)
            improved = val < state.best_val - MIN_IMPROVEMENT * abs(state.best_val)
            if not math.isfinite(state.best_val) or improved:
                state.best_val, state.bad_epochs = val, 0
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                state.bad_epochs += 1
                state.stopped_early = self.patience is not None and state.bad_epochs >= self.patience
        if not self.group.is_main:
            return
        last = state.epoch == self.epochs or state.stopped_early
        if self.checkpoint_path and (last or state.epoch % self.checkpoint_every == 0):
            checkpoint.save(self.checkpoint_path, self.fingerprint, self.model, self.optimizer,
                            self.generator, state, self.best_weights)
        seconds = progress.seconds()
        report = EpochReport(epoch + 1, self.epochs, history["train_loss"][-1],
                             history["val_loss"][-1] if len(self.val_idx) else None, lr,
                             samples / seconds, seconds, data_wait)
        # A callback may run the model (figures): its random draws must not shift the run's own.
        with torch.random.fork_rng(devices=[]):
            for callback in callbacks:
                callback.on_epoch_end(report)

    def finish(self) -> checkpoint.TrainState:
        if self.best_weights is not None:  # end on the weights that generalised best
            self.model.load_state_dict(self.best_weights)
        self.model.eval()
        return self.state


def held_out_rows(n: int, validation_fraction: float, seed: int) -> torch.Tensor:
    """The rows of ``n`` that a fit with this seed kept aside for validation: never trained on
    (their loss chose when to stop). Empty when the fit held none out."""
    return _split(n, validation_fraction, torch.Generator().manual_seed(seed))[1]


def labelled_drawn_more(train_idx: torch.Tensor, y: torch.Tensor | None, share: float) -> torch.Tensor:
    """The rows of an epoch: every training row once, and the rows with known attributes (weak
    supervision: a float ``y``, NaN where unknown) repeated as often as it takes for them to
    make up ``share`` of the epoch. A few hundred labelled rows among 100,000 would otherwise
    each be seen once an epoch, too rarely for the code to learn what they name."""
    if y is None or not y.is_floating_point() or share <= 0:
        return train_idx
    known = train_idx[torch.isfinite(y[train_idx.to(y.device)]).any(dim=1).cpu()]
    unknown = len(train_idx) - len(known)
    if len(known) == 0 or len(known) >= share * len(train_idx):
        return train_idx
    copies = math.ceil(share * unknown / ((1 - share) * len(known)))  # known * copies / all >= share
    return torch.cat([train_idx] + [known] * (copies - 1))


def _split(n: int, fraction: float, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    n_val = int(n * fraction)
    if n_val < 1 or n - n_val < 1:
        return perm, perm[:0]
    return perm[n_val:], perm[:n_val]


def _checkpoint_found(path: Path, group: Group) -> bool:
    """Whether to resume: the main process decides, and every process must then see the file
    (on several machines, the run folder must be on a file system they share)."""
    found = path.exists()
    resuming = group.same_everywhere(found)
    group.agree(found or not resuming, f"cannot see the checkpoint {path} that process 0 resumes "
                                       "from: put the run folder on a file system every process shares")
    return resuming


@torch.inference_mode()
def evaluate_loss(model: AutoencoderNet, feed: BatchFeed, y, preprocess, group: Group = SINGLE,
                  rows: torch.Tensor | None = None) -> float:
    """Mean objective (at full KL weight, no corruption) over the ``rows`` of the feed's data (all
    rows by default), in large batches gathered one at a time; in a group of processes each
    evaluates its share of every batch, with the noise a single one would draw."""
    model.eval()
    device = feed.device
    rows = torch.arange(len(feed.rows)) if rows is None else rows
    total = torch.zeros((), dtype=torch.float64, device=device)
    k = model.config.objective.importance_samples
    batch_size = model.inference_batch_size(k)
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        mine = batch[group.rows(len(batch))]
        xb = preprocess(feed.gather(mine.to(feed.index_device)))
        yb = None if y is None else y.index_select(0, mine.to(y.device)).to(device, non_blocking=True)
        eps = code_noise(model, len(batch), group.rows(len(batch)), device)
        out = model(xb, yb, k=k, eps=eps, batch_mean=group.batch_mean(len(batch)))
        total += out.loss.double() * len(batch)
    return total.item() / len(rows)
