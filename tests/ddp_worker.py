"""Fits that tests/test_distributed.py runs under torchrun and, for reference, in one process.

Each model exercises a way results could come to depend on the number of processes: noise on
the inputs (masks, salt and pepper with its batch range, binarisation), reparameterisation
noise with k codes, the free-bits floor on a batch mean, class labels, a last batch smaller
than the others, and a divergence that every process must report at the same step.

Usage: python -m torch.distributed.run --nproc-per-node=2 tests/ddp_worker.py OUT_DIR
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

import aekit

COMMON = {"latent_dim": 3, "epochs": 3, "batch_size": 32, "verbose": 0, "random_state": 7,
          "device": "cpu", "hidden_dims": (16,)}  # 203 rows: 182 to train, a last batch of 22
MODELS = {
    "dae_mask": lambda: aekit.DenoisingAutoEncoder(corruption="mask", corruption_level=0.3, **COMMON),
    "vae_free_bits_binarized": lambda: aekit.VAE(free_bits=0.1, binarize=True, scaler="minmax",
                                                 likelihood="bernoulli", **COMMON),
    "iwae_k4": lambda: aekit.VAE(importance_samples=4, **COMMON),
    "cvae_salt_pepper": lambda: aekit.ConditionalVAE(corruption="salt_pepper", corruption_level=0.1,
                                                     **COMMON),
}


def data():
    rng = np.random.default_rng(0)
    return rng.random((203, 12)).astype("float32"), rng.integers(0, 3, 203)


class CopyCheckpointAt:
    """Keep a copy of the checkpoint as it was after one epoch: what a run killed then leaves."""

    def __init__(self, epoch: int, checkpoint: Path, copy: Path):
        self.epoch, self.checkpoint, self.copy = epoch, checkpoint, copy

    def on_epoch_end(self, report):
        if report.epoch == self.epoch:
            shutil.copyfile(self.checkpoint, self.copy)


def resumable_fit(out: Path | None = None, resume_from: Path | None = None):
    """A VAE fit that checkpoints into ``out`` (copying the epoch-2 checkpoint aside), or that
    resumes from ``resume_from``."""
    X, _ = data()
    estimator = aekit.VAE(**{**COMMON, "epochs": 5})
    if resume_from is not None:
        return estimator.fit(X, checkpoint_path=resume_from, resume=True)
    checkpoint = out / "checkpoint.safetensors"
    return estimator.fit(X, checkpoint_path=checkpoint,
                         callbacks=[CopyCheckpointAt(2, checkpoint, out / "epoch2.safetensors")])


def run(out: Path) -> tuple[dict, dict]:
    """Every model's final weights, and what each fit reported."""
    X, y = data()
    weights, report = {}, {}
    for name, make in MODELS.items():
        estimator = make()
        estimator.fit(X, y if estimator.is_conditional else None)
        weights.update({f"{name}.{k}": v.contiguous() for k, v in estimator.model_.state_dict().items()})
        report[name] = {"processes": estimator.n_processes_, "val_loss": estimator.history_["val_loss"]}
    estimator = resumable_fit(out)
    weights.update({f"resumable.{k}": v.contiguous() for k, v in estimator.model_.state_dict().items()})
    try:
        aekit.AutoEncoder(learning_rate=1e12, lr_schedule="constant", **COMMON).fit(X * 1e3)
        report["divergence"] = None
    except aekit.TrainingDivergedError as exc:
        report["divergence"] = str(exc)
    return weights, report


if __name__ == "__main__":
    out = Path(sys.argv[1])
    weights, report = run(out)
    rank = os.environ.get("RANK", "0")
    save_file(weights, str(out / f"weights.{rank}.safetensors"))
    (out / f"report.{rank}.json").write_text(json.dumps(report))
