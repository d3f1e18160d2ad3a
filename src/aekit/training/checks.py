"""What the loop watches besides the step: divergence, the progress bar, a run's identity."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict

import torch
from tqdm.auto import tqdm

from .._distributed import Group
from ..data.stream import RowSource, update_digest
from ..errors import TrainingDivergedError
from ..model import AutoencoderNet
from .config import TrainConfig


def check_finite(terms: torch.Tensor, start: int, stop: int, epoch: int, group: Group,
                 batch_size: int, n_train: int) -> None:
    """Raise for the first step in [start, stop) whose loss was not finite (one host read). The
    loss is the global batch's, so every process finds the same step and raises together."""
    bad = (~torch.isfinite(terms[start:stop, 0].cpu())).nonzero()
    if len(bad):
        step = start + int(bad[0])
        loss, nll_sum, kl_sum = group.sum(terms[step].clone()).tolist()
        rows = min(batch_size, n_train - step * batch_size)
        raise TrainingDivergedError(
            f"loss became {loss / group.size} at epoch {epoch + 1}, step {step + 1} "
            f"(reconstruction NLL {nll_sum / rows:.4g}, KL {kl_sum / rows:.4g}). "
            "Try a lower learning_rate, scaled inputs (scaler='auto'), or a smaller beta.")


def fingerprint(model: AutoencoderNet, config: TrainConfig, X: RowSource, y: torch.Tensor | None) -> str:
    """Identifies a run's settings and every byte of its data (and labels), so a checkpoint is
    only resumed by its own run. Hashing is ~1 GB/s: a small cost once per fit."""
    settings = {**asdict(config), "verbose": None}  # a quieter resume is the same run
    h = hashlib.sha256(json.dumps([model.config.to_dict(), settings], sort_keys=True).encode())
    for data in (X, y):
        if data is not None:
            update_digest(h, data)
    return h.hexdigest()


class Progress:
    """The progress bar (on terminals, process 0 only): epoch, loss, samples/s, data wait."""

    def __init__(self, config: TrainConfig, run, group: Group):
        self.batch_size, self.epochs = config.batch_size, run.epochs
        self.bar = tqdm(total=run.total_steps, initial=run.state.global_step, unit="step", leave=False,
                        disable=True if config.verbose == 0 or not group.is_main else None,
                        dynamic_ncols=True)
        self.started, self.checked = time.perf_counter(), 0

    def start_epoch(self, epoch: int) -> None:
        self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}")
        self.started, self.checked = time.perf_counter(), 0

    def step(self, steps: int, loss: torch.Tensor, waited: float) -> None:
        """After ``steps`` steps of this epoch (the loss was checked up to there)."""
        self.bar.update(steps - self.checked)
        self.checked = steps
        elapsed = self.seconds()
        shown = {"data_wait": f"{waited / elapsed:.0%}"} if waited else {}
        self.bar.set_postfix(loss=f"{loss.item():.4g}", samples_s=f"{steps * self.batch_size / elapsed:,.0f}",
                             **shown, refresh=False)

    def validated(self, train_loss: float, val_loss: float, n_train: int) -> None:
        self.bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{val_loss:.4g}",
                             samples_s=f"{n_train / self.seconds():,.0f}")

    def seconds(self) -> float:
        """Since the epoch started."""
        return time.perf_counter() - self.started

    def close(self) -> None:
        self.bar.close()
