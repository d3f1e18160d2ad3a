"""How to train: ``TrainConfig``, built in one place from an estimator's parameters, and the
rules that turn it into a plan (epochs for small data, the learning-rate schedule)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

PRECISIONS = ("auto", "fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine")

# What the estimators' epochs="auto" asks for: 50 epochs, or more where they make fewer than
# AUTO_MIN_STEPS optimisation steps. 50 epochs of 500 images are ~150-200 steps, which left
# one-class detectors below PCA's reconstruction error; one-class Fashion-MNIST at 500 images
# per class, mean AUROC of three classes: 89.3 at 50 epochs, 92.9 at 1,000 steps, 93.6 at
# 2,000, 93.5 at 4,000 (benchmarks/training_budget.py). Table rows (flat vectors) need fewer:
# on 24 ADBench tables (2 seeds) the default detector scored a mean AUROC of 0.9208 with
# 1,000 steps and 0.9209 with 2,000, in 62% of the time (benchmarks/tabular_budget.py). Flat
# windows for an MLP are flat vectors too: on NAB that MLP lost up to 3.4 points at the default
# alarm level (benchmarks/NOTES.md); windows' default temporal network keeps 2,000, however its
# windows are shaped (one value column's load flat).
AUTO_EPOCHS = 50
AUTO_MIN_STEPS = 2000  # images and (channels, time) windows
AUTO_MIN_STEPS_VECTORS = 1000


@dataclass(frozen=True)
class TrainConfig:
    """How to train; built by :func:`train_config` from parameters already validated."""

    epochs: int = 50
    min_steps: int = 0  # small data sets train more passes, up to this many steps (plan)
    group_passes: bool = False  # several passes an epoch where min_steps needs them (plan)
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
    attribute_share: float = 0.0  # rows with known attributes make up at least this share of an epoch


def train_config(params: dict, sample_shape: tuple[int, ...], seed: int) -> TrainConfig:
    """The one builder of a fit's ``TrainConfig``, from an estimator's ``get_params()``."""
    auto = params["epochs"] == "auto"
    return TrainConfig(
        epochs=AUTO_EPOCHS if auto else params["epochs"],
        min_steps=auto_min_steps(sample_shape, params.get("network")) if auto else 0,
        group_passes=table_rows(sample_shape, params.get("network")),
        batch_size=params["batch_size"], learning_rate=params["learning_rate"],
        lr_schedule=params["lr_schedule"], validation_fraction=params["validation_fraction"],
        patience=params["patience"], precision=params["precision"], random_state=seed,
        verbose=int(params["verbose"]), binarize=bool(params.get("binarize", False)),
        compile=params["compile"], attribute_share=float(params.get("attribute_share", 0.0)))


def fine_tune_config(params: dict, sample_shape: tuple[int, ...], seed: int, *, steps: int,
                     learning_rate: float, precision: str) -> TrainConfig:
    """A fit's config turned into a nudge: at least ``steps`` steps at ``learning_rate``, in the
    precision the fit used, without early stopping or compiling, validated after every pass
    (the best of them is kept)."""
    return replace(train_config(params, sample_shape, seed), epochs=1, min_steps=steps,
                   group_passes=False, learning_rate=learning_rate, patience=None, precision=precision,
                   compile=False)


def table_rows(sample_shape: tuple[int, ...], network=None) -> bool:
    """Whether samples of ``sample_shape`` for ``network`` train as table rows: flat vectors for
    any network but the temporal one (whose windows train alike flat or as sequences)."""
    return len(sample_shape) == 1 and not (isinstance(network, str) and network == "temporal")


def auto_min_steps(sample_shape: tuple[int, ...], network=None) -> int:
    """The fewest steps epochs="auto" trains on samples of ``sample_shape`` with ``network``:
    a temporal network's windows get the same whether they come flat ``(time,)`` (one value
    column, as a CSV's windows load) or as ``(channels, time)`` sequences."""
    return AUTO_MIN_STEPS_VECTORS if table_rows(sample_shape, network) else AUTO_MIN_STEPS


@dataclass(frozen=True)
class Plan:
    """How a fit's steps are grouped: ``epochs`` of ``passes`` shuffled passes over the training
    rows each; every epoch ends with one validation, checkpoint and report, and early stopping
    waits ``patience`` epochs."""

    epochs: int
    passes: int
    patience: int | None


def plan(config: TrainConfig, steps_per_pass: int) -> Plan:
    """The plan for data with ``steps_per_pass`` steps a pass: ``config.epochs`` single passes,
    or, where those make fewer than ``config.min_steps`` steps, as many passes as make them.
    With ``config.group_passes`` (table rows) the passes are grouped so that the run still has
    about ``config.epochs`` epochs (a 100-row table: 50 epochs of 20 one-step passes, where
    validating after each of 1,000 passes cost about as much as the training). Otherwise
    (images and windows: grouped, the watched temporal model alarmed less well at the default
    level, benchmarks/NOTES.md), and where the passes do not group (fewer than twice
    ``config.epochs``), the epochs stretch instead, and patience with them, so that early
    stopping waits for the same share of the training (on 500 images, 10 epochs are 40 steps:
    noise in the loss of 50 validation images, not a plateau)."""
    if steps_per_pass * config.epochs >= config.min_steps:
        return Plan(config.epochs, 1, config.patience)
    total = math.ceil(config.min_steps / steps_per_pass)
    passes = max(1, total // config.epochs) if config.group_passes else 1
    epochs = math.ceil(total / passes)
    patience = None if config.patience is None else math.ceil(config.patience * epochs / config.epochs)
    return Plan(epochs, passes, patience)


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The step size at ``step``: constant, or cosine decay to 1% of the initial rate (large
    steps early, fine-tuning late)."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    progress = min(1.0, step / max(1, total_steps))
    return config.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
