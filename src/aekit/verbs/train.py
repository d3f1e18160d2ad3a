"""aekit train: train a preset on data and write a run folder (the model, metrics, figures).

The options and their defaults come from the library (the presets' signatures, the choices'
registries): ``aekit train`` and ``aekit.VAE()`` with the same seed train the same model."""

from __future__ import annotations

import contextlib
import inspect
import json
import time
from pathlib import Path

import numpy as np

from .. import plots
from .._atomic import write_text
from .._device import describe as describe_device
from .._device import resolve_device
from .._distributed import is_main_process, join
from ..callbacks import TensorBoardLogger
from ..data import BUILTINS, NAMED_SETS
from ..data import load as load_data
from ..data.layout import for_training, named_samples
from ..data.options import from_arguments, non_negative_int, positive_float, positive_int
from ..errors import InvalidInputError
from ..estimators import VAE, parameters
from ..nn.corruption import KINDS as CORRUPTIONS
from ..nn.corruption import MASK_MODES
from ..nn.likelihood import KINDS as LIKELIHOODS
from ..nn.networks import KINDS as NETWORKS
from ..persistence import REGISTRY, check_replaceable, model_digest
from ..runs import RunFolder
from ..tasks.factors import factor_table
from .base import Verb, opt
from .common import json_default, latent_map, merge

MODELS = {"ae": "AutoEncoder", "dae": "DenoisingAutoEncoder", "vae": "VAE", "cvae": "ConditionalVAE"}
METRIC_SAMPLES = 2000  # figures and metrics of a training run use at most this many samples


def train(*, source, preset: str, params: dict, out, resume: bool = False, data_options=None,
          log: str = "none"):
    """Train ``preset`` on ``source`` and write the run folder ``out``; returns the estimator.

    Under torchrun every process loads the data and trains its share; process 0 alone holds the
    run folder and writes it (``metrics.json`` records how many processes trained).
    ``log="tensorboard"`` also writes TensorBoard logs to ``out/tensorboard``.
    """
    group = join(resolve_device(params.get("device", "auto")))
    run = RunFolder(out)
    with run.writing() if group.is_main else contextlib.nullcontext():
        loaded = load_data(source, **(data_options or {}))
        dataset, network = for_training(loaded, params.get("network", "auto"))
        estimator = REGISTRY[preset](**{**params, "network": network})
        parameters.check(estimator)
        if estimator.is_conditional and dataset.y is None:
            raise InvalidInputError(f"{preset} needs labels, and {source} has none")
        features, y = named_samples(dataset), dataset.y
        # --factors: known attributes the code's first dimensions are trained to carry.
        attributes = _attributes(dataset) if (data_options or {}).get("factors") else None
        callbacks = _prepare_run_folder(run, estimator, features, y, resume, log) if group.is_main else []
        started = time.perf_counter()
        try:
            estimator.fit(features, y if estimator.is_conditional else None, attributes=attributes,
                          checkpoint_path=run.checkpoint, resume=resume, callbacks=callbacks)
        finally:
            for callback in callbacks:
                callback.close()
        if group.is_main:
            estimator.save(run.model)
            _write_metrics(run, estimator, dataset, source, data_options, preset, group,
                           time.perf_counter() - started)
    return estimator


def _attributes(dataset):
    import pandas as pd

    names, values = factor_table(dataset.factors)
    return pd.DataFrame(values, columns=names)


def _prepare_run_folder(run: RunFolder, estimator, features, y, resume: bool, log: str) -> list:
    """Check the run folder's outputs can be written (before training, not after) and start
    its logs; the callbacks that write them."""
    check_replaceable(run.model)  # a link there is refused now
    logs = run.subfolder("tensorboard") if log == "tensorboard" else None
    if not resume:
        run.metrics.unlink(missing_ok=True)  # the folder is being rewritten: no longer complete
    if logs is None:
        return []
    if not resume:  # a new run's curves must not continue the previous run's
        for old in logs.glob("events.out.tfevents.*"):
            if old.is_file() and not old.is_symlink():
                old.unlink()
    shown_y = y[:12] if estimator.is_conditional else None
    return [TensorBoardLogger(logs, estimator, features[:12], shown_y)]


def _write_metrics(run: RunFolder, estimator, dataset, source, data_options, preset, group, seconds):
    X = dataset.X
    metrics = _run_figures(estimator, dataset, run.path, preset)
    metrics = {
        "data": dataset.name, "source": _lasting(source), "data_options": data_options or {},
        "value_columns": list(dataset.windows.columns) if dataset.windows is not None else None,
        "model": preset, "n_train": int(len(X)), "sample_shape": list(X.shape[1:]),
        "params": estimator.get_params(), "epochs_run": estimator.n_iter_, "precision": estimator.precision_,
        "device": describe_device(resolve_device(estimator.device_)),
        "processes": group.size, "process_group_backend": group.backend or None,
        "train_seconds": round(seconds, 2), "final_train_loss": estimator.history_["train_loss"][-1],
        "best_val_loss": min(estimator.history_["val_loss"], default=None), **metrics,
        "model_sha256": model_digest(run.model)}
    write_text(run.metrics, json.dumps(metrics, indent=2, default=json_default))


def _lasting(source) -> str:
    """A data path as later verbs, run from any folder, find it again: absolute (a built-in or
    named set stays its name)."""
    if str(source) in BUILTINS or str(source) in NAMED_SETS:
        return str(source)
    path = Path(str(source))
    return str(path.resolve()) if path.exists() else str(source)


def _run_figures(estimator, dataset, out: Path, preset: str) -> dict:
    # Figures and metrics use a fixed subset: importance-sampled scores of every sample of a
    # large set would take longer than the training itself.
    X, y = dataset.X, dataset.y
    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(len(X), size=min(METRIC_SAMPLES, len(X)), replace=False))
    X_sub, y_sub = X[subset], None if y is None else y[subset]
    y_kw = {"y": y_sub} if estimator.is_conditional else {}
    shown_y = {"y": y[subset[:24]]} if estimator.is_conditional else {}
    what = f"{preset} on {dataset.name}"
    plots.loss_curve(estimator.history_, out / "loss_curve.png", title=f"{what}: training loss")
    plots.reconstruction_figure(X_sub[:24], estimator.reconstruct(X_sub[:24], **shown_y),
                                out / "reconstructions.png", title=f"{what}: inputs and reconstructions")
    summary: dict = {"figures": ["loss_curve.png", "reconstructions.png"]}
    if estimator.is_variational:
        plots.samples_figure(estimator.sample(36, random_state=0), out / "samples.png",
                             title=f"{what}: samples from the prior")
        summary["figures"].append("samples.png")
    codes = estimator.transform(X_sub)
    merge(summary, latent_map(codes, y_sub, out / "latent_map.png",
                              f"{what}: latent map (latent_dim={codes.shape[1]})"))
    reconstruction = estimator.reconstruct(X_sub, **y_kw)
    return {"metrics_on_samples": int(len(subset)),
            "reconstruction_mse": float(np.mean((reconstruction - X_sub.astype(np.float64)) ** 2)),
            "mean_score": float(np.mean(estimator.score_samples(X_sub, **y_kw))), **summary}


# ---------------------------------------------------------------------- the command line
_DEFAULTS = {name: p.default for name, p in inspect.signature(VAE).parameters.items()}
_DAE_DEFAULTS = {name: p.default
                 for name, p in inspect.signature(REGISTRY["DenoisingAutoEncoder"]).parameters.items()}


def _run(args):
    params = {"latent_dim": args.latent_dim, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.lr, "network": args.network, "likelihood": args.likelihood,
              "random_state": args.seed, "verbose": 0 if args.quiet else 1, "device": args.device,
              "deterministic": args.deterministic, "compile": args.compile}
    if args.model in ("vae", "cvae"):
        params.update(beta=args.beta, binarize=args.binarize, tc_weight=args.tc_weight,
                      capacity=args.capacity, capacity_epochs=args.capacity_epochs)
    if args.model == "dae":
        params.update(corruption=args.corruption, corruption_level=args.corruption_level,
                      mask_mode=args.mask_mode, patch_size=args.patch_size)
    estimator = train(source=args.data, preset=MODELS[args.model], params=params, out=args.out,
                      resume=args.resume, data_options=from_arguments(args), log=args.log)
    if not is_main_process():  # under torchrun, process 0 speaks for all
        return None
    history = estimator.history_
    best = f", best validation loss {min(history['val_loss']):.4g}" if history["val_loss"] else ""
    print(f"aekit: trained {MODELS[args.model]} for {estimator.n_iter_} epochs "
          f"(final training loss {history['train_loss'][-1]:.4g}{best}); wrote {args.out}")
    return None


def _epochs(text: str) -> int | str:
    return "auto" if text == "auto" else positive_int(text)


VERB = Verb("train", "train a model and write a run folder", _run, model=False, options=[
    opt("--model", choices=MODELS, default="vae", help="preset (default: vae)"),
    opt("--latent-dim", type=positive_int, default=_DEFAULTS["latent_dim"],
        help=f"code size (default: {_DEFAULTS['latent_dim']})"),
    opt("--epochs", type=_epochs, default=_DEFAULTS["epochs"],
        help="maximum epochs, or auto: 50, more for small data (at least 2,000 steps; 1,000 for table rows)"),
    opt("--batch-size", type=positive_int, default=_DEFAULTS["batch_size"],
        help=f"(default: {_DEFAULTS['batch_size']})"),
    opt("--lr", type=float, default=_DEFAULTS["learning_rate"],
        help=f"Adam learning rate (default: {_DEFAULTS['learning_rate']:g})"),
    opt("--network", choices=["auto", *NETWORKS], default=_DEFAULTS["network"],
        help="auto: conv for images, temporal for --window series, else mlp"),
    opt("--likelihood", choices=["auto", *LIKELIHOODS], default=_DEFAULTS["likelihood"],
        help="how reconstructions are judged; auto: bernoulli for binary data, else gaussian"),
    opt("--beta", type=float, default=_DEFAULTS["beta"], help="KL weight (vae, cvae)"),
    opt("--tc-weight", type=float, default=None, metavar="W",
        help="beta-TCVAE: weight of the total correlation between code dimensions, the rest of the KL "
             "weighted by --beta (vae, cvae; e.g. 6 for more disentangled codes; default: not split)"),
    opt("--capacity", type=positive_float, default=None, metavar="NATS",
        help="capacity annealing: hold the KL near a target rising to NATS, weighted by --beta "
             "(vae, cvae; e.g. --capacity 25 --beta 1000; default: off)"),
    opt("--capacity-epochs", type=non_negative_int, default=0, metavar="E",
        help="epochs over which the --capacity target rises from 0 (default: 0)"),
    opt("--binarize", action="store_true",
        help="dynamic binarisation: a fresh Bernoulli draw of every batch (vae, cvae)"),
    opt("--corruption", choices=[k for k in CORRUPTIONS if k != "none"], default=_DAE_DEFAULTS["corruption"],
        help="what the denoising model sees (dae)"),
    opt("--corruption-level", type=float, default=_DAE_DEFAULTS["corruption_level"],
        help="noise std (gaussian), or fraction flipped (salt_pepper) or masked (mask)"),
    opt("--mask-mode", choices=list(MASK_MODES), default=_DAE_DEFAULTS["mask_mode"],
        help="what mask corruption hides (dae)"),
    opt("--patch-size", type=positive_int, default=_DAE_DEFAULTS["patch_size"],
        help="side of the masked patches (dae, --mask-mode patches)"),
    opt("--seed", type=int, default=0, help="random_state (default: 0, so that runs repeat)"),
    opt("--out", default="runs/train", help="run folder (default: runs/train)"),
    opt("--resume", action="store_true",
        help="continue from the run folder's checkpoint after an interruption"),
    opt("--quiet", action="store_true", help="no progress bar"),
    # --logger too: under torchrun, "--log" is taken for an abbreviation of torchrun's own --log-dir.
    opt("--log", "--logger", dest="log", choices=["none", "tensorboard"], default="none",
        help="also log every epoch to RUN/tensorboard (needs aekit[tensorboard]; "
             "under torchrun write --logger)"),
    opt("--deterministic", action="store_true",
        help="only deterministic kernels: the same weights for a seed on a GPU too (slower)"),
    opt("--compile", action="store_true", help="torch.compile the networks before training"),
])
