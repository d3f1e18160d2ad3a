"""The training side: how a fit is configured (``config``), where it runs (``environment``,
``precision``), its batches (``batch``, fed by ``aekit.data.feeding``) and the loop (``loop``)."""

from .config import (
    AUTO_EPOCHS,
    AUTO_MIN_STEPS,
    AUTO_MIN_STEPS_VECTORS,
    LR_SCHEDULES,
    PRECISIONS,
    Plan,
    TrainConfig,
    auto_min_steps,
    plan,
    train_config,
)
from .loop import CHECK_EVERY, EpochReport, evaluate_loss, fit, held_out_rows
from .precision import cpu_has_amx, cpu_has_native_bf16, use_bf16

__all__ = ["AUTO_EPOCHS", "AUTO_MIN_STEPS", "AUTO_MIN_STEPS_VECTORS", "LR_SCHEDULES", "PRECISIONS",
           "Plan", "TrainConfig", "auto_min_steps", "plan", "train_config", "CHECK_EVERY",
           "EpochReport", "evaluate_loss", "fit", "held_out_rows", "cpu_has_amx", "cpu_has_native_bf16",
           "use_bf16"]
