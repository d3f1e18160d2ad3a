"""The training loop: in-memory tensors, index-slice batches, checkpoints, resume, early stopping.

Reproducibility: a run draws all its randomness (initial weights, batch order, corruption,
reparameterisation noise) from a seed under ``torch.random.fork_rng``, so the same
``random_state`` gives identical weights on CPU and the caller's global RNG is untouched.
A checkpoint holds both RNG states, so a run killed after epoch e and resumed continues
exactly as if it had never stopped.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import checkpoint
from ._distributed import SINGLE, Group
from .data.stream import update_digest
from .errors import TrainingDivergedError
from .model import AutoencoderNet
from .nn.corruption import corrupt

PRECISIONS = ("auto", "fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; built by the estimators from parameters they have already validated."""

    epochs: int = 50
    min_steps: int = 0  # small data sets train more epochs, up to this many steps (planned_epochs)
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    validation_fraction: float = 0.1
    patience: int | None = 10  # epochs without validation improvement before stopping
    precision: str = "auto"
    random_state: int = 0
    verbose: int = 1
    binarize: bool = False  # train on a fresh Bernoulli draw of each [0, 1] batch
    compile: bool = False  # torch.compile the encoder and decoder


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


# What the estimators' epochs="auto" asks for: 50 epochs, or more where they make fewer than
# AUTO_MIN_STEPS optimisation steps. 50 epochs of 500 images are ~150-200 steps, which left
# one-class detectors below PCA's reconstruction error; one-class Fashion-MNIST at 500 images
# per class, mean AUROC of three classes: 89.3 at 50 epochs, 92.9 at 1,000 steps, 93.6 at
# 2,000, 93.5 at 4,000 (benchmarks/training_budget.py). Table rows (flat vectors) need fewer:
# on 24 ADBench tables (2 seeds) the default detector scored a mean AUROC of 0.9208 with
# 1,000 steps and 0.9209 with 2,000, in 62% of the time (benchmarks/tabular_budget.py). Flat
# windows for an MLP are flat vectors too: on NAB that MLP lost up to 3.4 points at the default
# alarm level (benchmarks/NOTES.md); windows' default temporal network keeps 2,000.
AUTO_EPOCHS = 50
AUTO_MIN_STEPS = 2000  # images and (channels, time) windows
AUTO_MIN_STEPS_VECTORS = 1000


def auto_min_steps(sample_shape: tuple[int, ...]) -> int:
    """The fewest steps epochs="auto" trains on samples of ``sample_shape``."""
    return AUTO_MIN_STEPS_VECTORS if len(sample_shape) == 1 else AUTO_MIN_STEPS


def planned_epochs(config: TrainConfig, steps_per_epoch: int) -> tuple[int, int | None]:
    """Epochs and patience for data with ``steps_per_epoch``: ``config.epochs``, stretched to at
    least ``config.min_steps`` steps; patience stretches in proportion, so early stopping waits
    for the same share of the training (on 500 images, 10 epochs are 40 steps: noise in the
    loss of 50 validation images, not a plateau)."""
    if steps_per_epoch * config.epochs >= config.min_steps:
        return config.epochs, config.patience
    epochs = math.ceil(config.min_steps / steps_per_epoch)
    patience = None if config.patience is None else math.ceil(config.patience * epochs / config.epochs)
    return epochs, patience


def _fingerprint(model: AutoencoderNet, config: TrainConfig, X, y: torch.Tensor | None) -> str:
    """Identifies a run's settings and every byte of its data (and labels), so a checkpoint is
    only resumed by its own run. Hashing is ~1 GB/s: a small cost once per fit."""
    settings = {**asdict(config), "verbose": None}  # a quieter resume is the same run
    h = hashlib.sha256(json.dumps([model.config.to_dict(), settings], sort_keys=True).encode())
    for data in (X, y):
        if data is not None:
            update_digest(h, data)
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
        config: TrainConfig, checkpoint_path: str | Path | None = None, resume: bool = False,
        group: Group = SINGLE, callbacks=()) -> checkpoint.TrainState:
    """Train ``model`` in place on raw data ``X`` (preprocessed per batch by ``preprocess``).

    ``X`` and ``y`` may live on the model's device (resident data) or on the CPU (each batch is
    copied over). Call inside ``torch.random.fork_rng`` after seeding (the estimators do). In a
    ``group`` of several processes (torchrun), every process passes the same data and seed and
    trains its share of each batch; only the main process writes the checkpoint and calls
    ``callbacks`` (``on_epoch_end(EpochReport)``).
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(config.random_state)  # batch order: on the CPU
    train_idx, val_idx = _split(len(X), config.validation_fraction, generator)
    # The fused kernel updates all parameters in one pass instead of several kernels per tensor.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    epochs, patience = planned_epochs(config, steps_per_epoch)
    # A stretched run checkpoints as often as an unstretched one would (not every tiny epoch).
    checkpoint_every = max(1, epochs // config.epochs)
    total_steps = steps_per_epoch * epochs
    bf16 = use_bf16(config.precision, model)
    objective = model.config.objective
    state, best_weights = checkpoint.TrainState(), None
    fingerprint = ""
    if checkpoint_path:
        fingerprint = _fingerprint(model, config, X, y)
    if resume and checkpoint_path and _checkpoint_found(Path(checkpoint_path), group):
        state, best_weights = checkpoint.load(Path(checkpoint_path), fingerprint, model, optimizer,
                                              generator, epochs, steps_per_epoch)
    if config.compile:
        # The networks hold nearly all the arithmetic; compiling them in place keeps the
        # parameter names (and so model folders and checkpoints) unchanged.
        model.encoder.compile()
        model.decoder.compile()
    net = model if group.size == 1 else DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)

    state.precision = "bf16" if bf16 else "fp32"
    host_to_gpu = _device_of(X).type == "cpu" and device.type == "cuda"
    staging = PinnedStaging(X, config.batch_size, device) if host_to_gpu else None
    sizes = torch.full((steps_per_epoch,), float(config.batch_size), dtype=torch.float64, device=device)
    sizes[-1] = len(train_idx) - config.batch_size * (steps_per_epoch - 1)
    bar = tqdm(total=total_steps, initial=state.global_step, unit="step", leave=False,
               disable=True if config.verbose == 0 or not group.is_main else None, dynamic_ncols=True)
    for epoch in range(state.epoch, epochs):
        if state.stopped_early:
            break
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)].to(_device_of(X))
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        # Per step: the loss (global batch mean), and this process's NLL and KL sums.
        terms = torch.zeros(steps_per_epoch, 3, dtype=torch.float64, device=device)
        t0, checked = time.perf_counter(), 0
        steps = [order[step * config.batch_size:(step + 1) * config.batch_size]
                 for step in range(steps_per_epoch)]
        reader = None if isinstance(X, torch.Tensor) else ReadAhead(
            X, [_rows_wanted(model, config, group, idx).numpy() for idx in steps])
        for step in range(steps_per_epoch):
            idx = steps[step]
            lr = _learning_rate(config, state.global_step, total_steps)
            for group_ in optimizer.param_groups:
                group_["lr"] = lr
            progress = epoch + step / steps_per_epoch
            kl_weight = min(1.0, progress / objective.kl_warmup_epochs) if objective.kl_warmup_epochs else 1.0
            fetched = None if reader is None else reader.next()
            xb, x_in, yb, eps = _batch(model, X, y, idx, preprocess, config, group, staging, fetched)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = net(xb, yb, k=objective.importance_samples, kl_weight=kl_weight, corrupted=x_in,
                          eps=eps, batch_mean=group.batch_mean(len(idx)))
            terms[step] = torch.stack([out.loss.detach().double(), out.nll.detach().double().sum(),
                                       out.kl.detach().double().sum()])
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            state.global_step += 1
            bar.update()
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps_per_epoch:
                _check_finite(terms, checked, step + 1, epoch, group, config.batch_size, len(train_idx))
                checked = step + 1
                elapsed = time.perf_counter() - t0
                rate = (step + 1) * config.batch_size / elapsed
                waited = {} if reader is None else {"data_wait": f"{reader.waited / elapsed:.0%}"}
                bar.set_postfix(loss=f"{terms[step, 0].item():.4g}", samples_s=f"{rate:,.0f}", **waited,
                                refresh=False)
        data_wait = 0.0 if reader is None else reader.close()

        state.epoch = epoch + 1
        state.history["train_loss"].append(float((terms[:, 0] * sizes).sum().item() / len(train_idx)))
        state.history["lr"].append(lr)
        if len(val_idx):
            val = evaluate_loss(model, X, y, preprocess, group, rows=val_idx)
            state.history["val_loss"].append(val)
            bar.set_postfix(loss=f"{state.history['train_loss'][-1]:.4g}", val=f"{val:.4g}",
                            samples_s=f"{len(train_idx) / (time.perf_counter() - t0):,.0f}")
            if not math.isfinite(state.best_val) or val < state.best_val - 1e-6 * abs(state.best_val):
                state.best_val, state.bad_epochs = val, 0
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                state.bad_epochs += 1
                state.stopped_early = patience is not None and state.bad_epochs >= patience
        if group.is_main:
            last = state.epoch == epochs or state.stopped_early
            if checkpoint_path and (last or state.epoch % checkpoint_every == 0):
                checkpoint.save(Path(checkpoint_path), fingerprint, model, optimizer, generator,
                                state, best_weights)
            report = EpochReport(epoch + 1, epochs, state.history["train_loss"][-1],
                                 state.history["val_loss"][-1] if len(val_idx) else None, lr,
                                 len(train_idx) / (time.perf_counter() - t0), time.perf_counter() - t0,
                                 data_wait)
            _call_back(callbacks, report)
    bar.close()
    if best_weights is not None:  # end on the weights that generalised best
        model.load_state_dict(best_weights)
    model.eval()
    return state


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


def _call_back(callbacks, report: EpochReport) -> None:
    # A callback may run the model (figures): its random draws must not shift the run's own.
    with torch.random.fork_rng(devices=[]):
        for callback in callbacks:
            callback.on_epoch_end(report)


def _checkpoint_found(path: Path, group: Group) -> bool:
    """Whether to resume: the main process decides, and every process must then see the file
    (on several machines, the run folder must be on a file system they share)."""
    found = path.exists()
    resuming = group.same_everywhere(found)
    group.agree(found or not resuming, f"cannot see the checkpoint {path} that process 0 resumes "
                                       "from: put the run folder on a file system every process shares")
    return resuming


def _batch(model: AutoencoderNet, X, y, idx, preprocess, config: TrainConfig, group: Group,
           staging: PinnedStaging | None = None, fetched: np.ndarray | None = None):
    """This process's rows of one global batch: the clean input, the encoder's input (None: the
    clean one), the labels and the codes' noise.

    Noise is drawn for the whole global batch and then sliced, so that each row gets the same
    noise whatever the number of processes (see ``_distributed``). ``fetched``: those rows,
    already read (``ReadAhead``)."""
    device = next(model.parameters()).device
    rows = group.rows(len(idx))
    noisy_inputs = config.binarize or model.config.corruption.kind != "none"
    if fetched is not None:
        raw = staging.put(fetched) if staging else torch.from_numpy(fetched).to(device, non_blocking=True)
    else:
        wanted = _rows_wanted(model, config, group, idx)
        raw = staging.copy(X, wanted) if staging else gather(X, wanted).to(device, non_blocking=True)
    xb = preprocess(raw)
    if config.binarize:  # dynamic binarisation: every epoch sees new binary images
        xb = torch.bernoulli(xb.clamp(0, 1))  # (rounding may put the extremes a hair outside)
    x_in = corrupt(xb, model.config.corruption) if model.config.corruption.kind != "none" else None
    if noisy_inputs:
        xb, x_in = xb[rows], None if x_in is None else x_in[rows]
    # Streamed rows keep their batch order on the CPU while resident labels sit on the device.
    yb = None if y is None else y.index_select(0, idx[rows].to(y.device)).to(device, non_blocking=True)
    eps = _code_noise(model, len(idx), rows, device)
    return xb, x_in, yb, eps


def _rows_wanted(model: AutoencoderNet, config: TrainConfig, group: Group, idx: torch.Tensor) -> torch.Tensor:
    """The rows this process reads for a global batch ``idx``: its own, or all of them when the
    inputs get noise (drawn for the whole batch, see ``_batch``)."""
    noisy_inputs = config.binarize or model.config.corruption.kind != "none"
    return idx if noisy_inputs else idx[group.rows(len(idx))]


# Threads that read rows ahead of training: os.pread releases the GIL, so reads overlap compute.
READ_THREADS = 2


class ReadAhead:
    """The rows of an epoch's coming batches, read in threads while the current batch trains.

    Reads are pure functions of the row indices, so results do not depend on their timing. A
    source whose reads are not thread-safe (a user's Dataset) is read in the training thread."""

    def __init__(self, X, batches: list[np.ndarray], ahead: int = 4):
        self.X, self.batches = X, iter(batches)
        threads = READ_THREADS if getattr(X, "thread_safe", False) else 0
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="aekit-read") if threads else None
        self.pending: collections.deque = collections.deque()
        self.waited = 0.0
        self.loader = None
        if getattr(X, "workers", 0) > 0:  # worker processes (a DatasetRows that asked for them)
            # Its own generator: a DataLoader seeds its workers from the global RNG otherwise,
            # which would shift the run's noise.
            self.loader = iter(torch.utils.data.DataLoader(
                _Batches(X, batches), batch_size=None, num_workers=X.workers, prefetch_factor=2,
                collate_fn=_as_array, generator=torch.Generator().manual_seed(0)))
        for _ in range(ahead if self.pool else 0):
            self._submit()

    def _submit(self) -> None:
        batch = next(self.batches, None)
        if batch is not None:
            self.pending.append(self.pool.submit(self.X.take, batch))

    def next(self) -> np.ndarray:
        start = time.perf_counter()
        if self.loader is not None:
            rows = next(self.loader)
        elif self.pool is None:
            rows = self.X.take(next(self.batches))
        else:
            rows = self.pending.popleft().result()
            self._submit()
        self.waited += time.perf_counter() - start
        return rows

    def close(self) -> float:
        """Stop reading; the seconds training waited for rows."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
        self.loader = None  # its worker processes end with it
        return self.waited


class _Batches(torch.utils.data.Dataset):
    """Batch i of an epoch, read by a DataLoader worker."""

    def __init__(self, X, batches: list[np.ndarray]):
        self.X, self.batches = X, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.X.take(self.batches[i])


def _as_array(rows):
    return rows  # the workers' arrays as they are (torch's default would make tensors)


class PinnedStaging:
    """Batches of host data on their way to a GPU: gathered into page-locked buffers and copied
    without making the host wait, so the host gathers the next batch while the GPU computes.

    Two buffers take turns; an event recorded after each copy keeps a buffer from being
    refilled before the GPU has read it. (Data that fits on the GPU never comes here.)"""

    def __init__(self, X: torch.Tensor, batch_size: int, device: torch.device):
        shape = (batch_size, *X.shape[1:])
        dtype = X.dtype if isinstance(X, torch.Tensor) else torch.from_numpy(np.empty(0, X.dtype)).dtype
        self.buffers = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(2)]
        self.copied = [None, None]
        self.device, self.turn = device, 0

    def copy(self, X, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` of ``X`` (a host tensor or a RowSource) on the GPU."""
        if not isinstance(X, torch.Tensor):
            return self.put(X.take(idx.numpy()))
        torch.index_select(X, 0, idx, out=self._free()[:len(idx)])
        return self._send(len(idx))

    def put(self, rows: np.ndarray) -> torch.Tensor:
        """Rows already read, on the GPU."""
        self._free()[:len(rows)].numpy()[...] = rows
        return self._send(len(rows))

    def _free(self) -> torch.Tensor:
        """This turn's buffer, once the GPU has finished reading its previous batch."""
        if self.copied[self.turn] is not None:
            self.copied[self.turn].synchronize()
        return self.buffers[self.turn]

    def _send(self, n: int) -> torch.Tensor:
        on_device = self.buffers[self.turn][:n].to(self.device, non_blocking=True)
        self.copied[self.turn] = torch.cuda.Event()
        self.copied[self.turn].record(torch.cuda.current_stream(self.device))
        self.turn = 1 - self.turn
        return on_device


def _code_noise(model: AutoencoderNet, n: int, rows: slice, device) -> torch.Tensor | None:
    """The reparameterisation noise of a global batch of n inputs, sliced to ``rows``."""
    if not model.stochastic:
        return None
    k, latent = model.config.objective.importance_samples, model.config.latent_dim
    return torch.randn(k, n, latent, device=device)[:, rows]


def _check_finite(terms: torch.Tensor, start: int, stop: int, epoch: int, group: Group,
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


def _learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    if config.lr_schedule == "constant":
        return config.learning_rate
    # Cosine decay to 1% of the initial rate: large steps early, fine-tuning late.
    progress = min(1.0, step / max(1, total_steps))
    return config.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.inference_mode()
def evaluate_loss(model: AutoencoderNet, X, y, preprocess, group: Group = SINGLE,
                  rows: torch.Tensor | None = None) -> float:
    """Mean objective (at full KL weight, no corruption) over the ``rows`` of ``X`` (all rows by
    default), in large batches gathered one at a time; in a group of processes each evaluates
    its share of every batch, with the noise a single one would draw."""
    model.eval()
    device = next(model.parameters()).device
    rows = torch.arange(len(X)) if rows is None else rows
    total = torch.zeros((), dtype=torch.float64, device=device)
    k = model.config.objective.importance_samples
    batch_size = model.inference_batch_size(k)
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        mine = batch[group.rows(len(batch))]
        xb = preprocess(gather(X, mine.to(_device_of(X))).to(device, non_blocking=True))
        yb = None if y is None else gather(y, mine.to(y.device)).to(device, non_blocking=True)
        eps = _code_noise(model, len(batch), group.rows(len(batch)), device)
        out = model(xb, yb, k=k, eps=eps, batch_mean=group.batch_mean(len(batch)))
        total += out.loss.double() * len(batch)
    return total.item() / len(rows)


def gather(X, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` of ``X``: a tensor (in memory, on any device) or a ``RowSource``."""
    if isinstance(X, torch.Tensor):
        # index_select, not X[idx]: advanced indexing's generic kernel is ~10x slower here.
        return X.index_select(0, idx)
    return torch.from_numpy(X.take(idx.numpy()))


def _device_of(X) -> torch.device:
    return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
