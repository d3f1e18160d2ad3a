"""A run is a folder: the model, ``metrics.json`` and the figures.

Layout of ``train_run``'s folder::

    model/               config.json + model.safetensors (aekit.load reads it)
    checkpoint.safetensors   the last epoch's training state (for --resume)
    loss_curve.png  reconstructions.png  samples.png (variational models)  latent_map.png
    metrics.json         written last: its presence marks a complete run
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import data as data_layer
from . import plots
from ._atomic import write_text
from .errors import InvalidInputError
from .estimators import REGISTRY

METRIC_SAMPLES = 2000


def train_run(source: str, preset: str, params: dict, out: str | Path, resume: bool = False,
              data_options: dict | None = None):
    """Train ``preset`` on ``source`` (read by ``aekit.data.load`` with ``data_options``) and write
    the run folder ``out``; returns the estimator."""
    out = Path(out)
    dataset = data_layer.load(source, **(data_options or {}))
    X, y = np.asarray(dataset.X), dataset.y
    estimator = REGISTRY[preset](checkpoint_path=str(out / "checkpoint.safetensors"), **params)
    if estimator._conditional and y is None:
        raise InvalidInputError(f"{preset} needs labels, and {source} has none")
    if (out / "metrics.json").exists() and not resume:
        (out / "metrics.json").unlink()  # the folder is being rewritten: no longer complete
    started = time.perf_counter()
    estimator.fit(X, y if estimator._conditional else None, resume=resume)
    seconds = time.perf_counter() - started

    estimator.save(out / "model")
    rng = np.random.default_rng(0)
    # Figures and metrics use a fixed subset: importance-sampled scores of every sample of a
    # large set would take longer than the training itself.
    subset = np.sort(rng.choice(len(X), size=min(METRIC_SAMPLES, len(X)), replace=False))
    X_sub, y_sub = X[subset], None if y is None else y[subset]
    y_kw = {"y": y_sub} if estimator._conditional else {}
    shown = subset[:24]
    shown_y = {"y": y[shown]} if estimator._conditional else {}
    plots.loss_curve(estimator.history_, out / "loss_curve.png",
                     title=f"{preset} on {dataset.name}: training loss")
    plots.reconstruction_figure(X[shown], estimator.reconstruct(X[shown], **shown_y),
                                out / "reconstructions.png",
                                title=f"{preset} on {dataset.name}: inputs and reconstructions")
    figures = ["loss_curve.png", "reconstructions.png"]
    if estimator.model_.stochastic:
        plots.samples_figure(estimator.sample(36, random_state=0), out / "samples.png",
                             title=f"{preset} on {dataset.name}: samples from the prior")
        figures.append("samples.png")
    codes = estimator.transform(X_sub)
    plots.latent_map(codes, y_sub, out / "latent_map.png",
                     title=f"{preset} on {dataset.name}: latent map (latent_dim={codes.shape[1]})")
    figures.append("latent_map.png")

    reconstruction = estimator.reconstruct(X_sub, **y_kw)
    metrics = {
        "data": dataset.name, "source": str(source), "data_options": data_options or {}, "model": preset,
        "n_samples": int(len(X)), "sample_shape": list(X.shape[1:]), "params": estimator.get_params(),
        "epochs_run": estimator.n_iter_, "precision": estimator.precision_,
        "train_seconds": round(seconds, 2),
        "final_train_loss": estimator.history_["train_loss"][-1],
        "best_val_loss": min(estimator.history_["val_loss"], default=None),
        "metrics_on_samples": int(len(subset)),
        "reconstruction_mse": float(np.mean((reconstruction - X_sub.astype(np.float64)) ** 2)),
        "mean_score": float(np.mean(estimator.score_samples(X_sub, **y_kw))),
        "figures": figures,
    }
    metrics["params"].pop("checkpoint_path")
    write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    return estimator
