"""What the loop watches besides the step: divergence, the progress bar, a run's identity."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict

import torch
from tqdm.auto import tqdm

from .._distributed import Group
from ..data.stream import RowSource, update_digest
from ..errors import TrainingDivergedError
from ..model import AutoencoderNet
from .config import TrainConfig


class StepLosses:
    """Each step's loss, kept on the device until the loop looks (every ``CHECK_EVERY`` steps
    and at the end of an epoch): a step records its detached outputs and launches no kernel of
    its own, and a look is one host read. A non-finite loss is reported at the step where it
    first occurred, with that step's reconstruction and KL terms."""

    def __init__(self, group: Group, batch_size: int, n_train: int):
        self.group, self.batch_size, self.n_train = group, batch_size, n_train
        self.pending: list = []  # (loss, per-input NLL, per-input KL) since the last look
        self.losses: list[float] = []  # this epoch's, read

    def start_epoch(self) -> None:
        self.pending, self.losses = [], []

    def add(self, out) -> None:
        self.pending.append((out.loss.detach(), out.nll.detach(), out.kl.detach()))

    def check(self, epoch: int) -> float:
        """Read the pending losses; raise for the first that is not finite (the loss is the
        global batch's, so every process finds the same step and raises together). Returns
        the latest loss."""
        read = torch.stack([loss for loss, _, _ in self.pending]).double().cpu()
        bad = (~torch.isfinite(read)).nonzero()
        if len(bad):
            step = len(self.losses) + int(bad[0])
            loss, nll, kl = self.pending[int(bad[0])]
            terms = torch.stack([loss.double(), nll.double().sum(), kl.double().sum()])
            loss, nll_sum, kl_sum = self.group.sum(terms).tolist()
            in_pass = step % math.ceil(self.n_train / self.batch_size)  # an epoch may make several passes
            rows = min(self.batch_size, self.n_train - in_pass * self.batch_size)
            raise TrainingDivergedError(
                f"loss became {loss / self.group.size} at epoch {epoch + 1}, step {step + 1} "
                f"(reconstruction NLL {nll_sum / rows:.4g}, KL {kl_sum / rows:.4g}). "
                "Try a lower learning_rate, scaled inputs (scaler='auto'), or a smaller beta.")
        self.losses.extend(read.tolist())
        self.pending = []
        return self.losses[-1]


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

    def step(self, steps: int, loss: float, waited: float) -> None:
        """After ``steps`` steps of this epoch (the loss was checked up to there)."""
        self.bar.update(steps - self.checked)
        self.checked = steps
        elapsed = self.seconds()
        shown = {"data_wait": f"{waited / elapsed:.0%}"} if waited else {}
        self.bar.set_postfix(loss=f"{loss:.4g}", samples_s=f"{steps * self.batch_size / elapsed:,.0f}",
                             **shown, refresh=False)

    def validated(self, train_loss: float, val_loss: float, samples: float) -> None:
        """After an epoch that trained on ``samples`` rows (counted once per pass)."""
        self.bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{val_loss:.4g}",
                             samples_s=f"{samples / self.seconds():,.0f}")

    def seconds(self) -> float:
        """Since the epoch started."""
        return time.perf_counter() - self.started

    def close(self) -> None:
        self.bar.close()
