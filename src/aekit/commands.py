"""What each CLI verb does, as keyword-only functions: load the model and data, run a task,
write files.

``train`` writes a run folder (``runs.RunFolder``). Every other verb writes its folder ``out``
through ``runs.staged_output``: all files go to a temporary folder that replaces ``out`` once
the verb's summary ``<verb>.json`` is written, so a folder with that summary is complete and a
failed verb leaves the previous outputs as they were. Each summary records the checksum of
the model it used, so ``report`` can tell outputs of an earlier model from current ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from pathlib import Path

import numpy as np

from . import plots
from ._atomic import atomic_path, write_text
from ._device import describe as describe_device
from ._device import resolve_device
from ._distributed import join
from ._memory import require_memory
from .callbacks import TensorBoardLogger
from .data import BUILTINS, NAMED_SETS, Dataset
from .data import load as load_data
from .data.stream import ColumnRows, RowSource, chunk_rows, select_rows, write_npy_header
from .data.table_stream import channel
from .errors import InvalidInputError, ModelFileError
from .persistence import REGISTRY, check_replaceable, model_digest
from .persistence import load as load_model_folder
from .runs import RunFolder, staged_output
from .tasks import density as density_tasks
from .tasks import encode as encode_tasks
from .tasks import latent
from .tasks.detect import AnomalyDetector, detection_metrics
from .tasks.restore import restore_and_compare

METRIC_SAMPLES = 2000  # figures and metrics of a training run use at most this many samples


def model_folder(path) -> Path:
    """A model folder, or the ``model/`` of a run folder."""
    run = RunFolder.holding_model(path)
    folder = run.model if run else Path(path)
    if not (folder / "config.json").is_file():
        raise ModelFileError(f"{path} holds no model: give a run folder or a model folder")
    return folder


def load_model(path, device=None, trust_code: bool = False):
    """The model of a model or run folder, set to run on ``device`` (None: its own setting);
    ``trust_code``: import the code of a model's own networks (``aekit.load``)."""
    estimator = load_model_folder(model_folder(path), trust_code=trust_code)
    return estimator if device is None else estimator.set_params(device=device)


def aligned(model, data: Dataset) -> Dataset:
    """``data`` with its table columns in the model's order, matched by name.

    A model trained on a table stores its column names; a file whose columns come in another
    order is reordered, and one that lacks or adds columns is refused, never read by position.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None or data.feature_names is None or list(names) == list(data.feature_names):
        return data
    have, need = list(data.feature_names), [str(n) for n in names]
    missing, extra = [n for n in need if n not in have], [n for n in have if n not in need]
    if missing or extra:
        missing_text = f"Missing: {missing[:5]}. " if missing else ""
        extra_text = f"Not in the model: {extra[:5]}. " if extra else ""
        raise InvalidInputError(
            f"{data.name}: its columns do not match the model's ({len(need)} columns). {missing_text}"
            f"{extra_text}Choose the columns with --feature-columns, --label-column or --id-column")
    order = [have.index(n) for n in need]
    X = ColumnRows(data.X, order) if isinstance(data.X, RowSource) else \
        np.ascontiguousarray(np.asarray(data.X)[:, order])
    return Dataset(X, data.y, data.name, ids=data.ids,
                   feature_names=need, factors=data.factors, windows=data.windows)


def as_sequences(data: Dataset) -> Dataset:
    """Windows of several value columns as ``(channels, time)`` samples, what a temporal
    network reads (``load`` gives each window as one row, channel after channel)."""
    if data.windows is None or data.windows.channels == 1:
        return data
    shape = (data.windows.channels, data.windows.length)
    X = data.X.with_sample_shape(shape) if isinstance(data.X, RowSource) else \
        np.asarray(data.X).reshape(len(data.X), *shape)
    return dataclasses.replace(data, X=X, feature_names=None)


def _for_model(model, data: Dataset) -> Dataset:
    """``data`` as ``model`` was trained on it: its columns, and windows as sequences if so."""
    data = aligned(model, data)
    return as_sequences(data) if len(getattr(model, "input_shape_", ())) == 2 and data.windows else data


def _load(model_path, source, data_options, device=None, trust_code: bool = False):
    """The model and the data (rows read on demand stay so: every verb reads them in batches)."""
    model = load_model(model_path, device, trust_code)
    return model, _for_model(model, load_data(source, **(data_options or {})))


def _in_memory(data: Dataset, why: str) -> Dataset:
    """``data`` with its samples loaded, for work that needs them whole, if memory allows."""
    if not isinstance(data.X, RowSource):
        return data
    require_memory(data.X.nbytes, f"{data.name} in memory", why)
    return dataclasses.replace(data, X=data.X[0:len(data.X)])


def _writes_folder(verb):
    """Run the command with ``out`` replaced by a staging folder that becomes ``out`` at the end."""
    @functools.wraps(verb)
    def wrapper(*, out, **kwargs):
        with staged_output(out) as tmp:
            summary = verb(out=tmp, **kwargs)
        return Path(out) / summary.name
    return wrapper


def _summary(out: Path, name: str, payload: dict, model_path=None) -> Path:
    if model_path is not None:
        payload = {**payload, "model_sha256": model_digest(model_folder(model_path))}
    path = out / name
    write_text(path, json.dumps(payload, indent=2, default=_json_default))
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def _latent_map(codes, labels, path, title, method="pca") -> dict:
    """Draw the latent map where the codes allow one; say what was drawn, or why not."""
    if len(codes) < 2:
        return {"skipped": {path.name: f"a latent map needs at least 2 codes, got {len(codes)}"}}
    latent.check_finite_codes(codes, "inputs on the latent map")
    projection = plots.latent_map(codes, labels, path, title=title, method=method)
    return {"figures": [path.name], "projection": projection}


def _merge(summary: dict, part: dict) -> None:
    summary.setdefault("figures", []).extend(part.get("figures", []))
    if part.get("skipped"):
        summary.setdefault("figures_skipped", {}).update(part["skipped"])
    if "projection" in part:
        summary["projection"] = part["projection"]


# ---------------------------------------------------------------------- train
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
        dataset = load_data(source, **(data_options or {}))
        if dataset.windows is not None and params.get("network", "auto") in ("auto", "temporal"):
            params = {**params, "network": "temporal"}  # windows: 1-D convolutions over time
            dataset = as_sequences(dataset)
        estimator = REGISTRY[preset](**params)
        estimator._check_params()
        if estimator.is_conditional and dataset.y is None:
            raise InvalidInputError(f"{preset} needs labels, and {source} has none")
        X, y = (dataset.X if isinstance(dataset.X, RowSource) else np.asarray(dataset.X)), dataset.y
        features = X if dataset.feature_names is None else _frame(X, dataset.feature_names)
        callbacks = []
        if group.is_main:
            check_replaceable(run.model)  # before training, not after: a link there is refused now
            logs = run.subfolder("tensorboard") if log == "tensorboard" else None
            if not resume:
                run.metrics.unlink(missing_ok=True)  # the folder is being rewritten: no longer complete
            if logs is not None:
                if not resume:  # a new run's curves must not continue the previous run's
                    for old in logs.glob("events.out.tfevents.*"):
                        if old.is_file() and not old.is_symlink():
                            old.unlink()
                shown_y = y[:12] if estimator.is_conditional else None
                callbacks.append(TensorBoardLogger(logs, estimator, features[:12], shown_y))
        started = time.perf_counter()
        try:
            estimator.fit(features, y if estimator.is_conditional else None,
                          checkpoint_path=run.checkpoint, resume=resume, callbacks=callbacks)
        finally:
            for callback in callbacks:
                callback.close()
        seconds = time.perf_counter() - started
        if not group.is_main:
            return estimator
        estimator.save(run.model)
        metrics = _run_figures(estimator, dataset, X, y, run.path, preset)
        metrics = {
            "data": dataset.name, "source": _lasting(source), "data_options": data_options or {},
            "value_columns": list(dataset.windows.columns) if dataset.windows is not None else None,
            "model": preset,
            "n_train": int(len(X)), "sample_shape": list(X.shape[1:]), "params": estimator.get_params(),
            "epochs_run": estimator.n_iter_, "precision": estimator.precision_,
            "device": describe_device(resolve_device(estimator.device_)),
            "processes": group.size, "process_group_backend": group.backend or None,
            "train_seconds": round(seconds, 2), "final_train_loss": estimator.history_["train_loss"][-1],
            "best_val_loss": min(estimator.history_["val_loss"], default=None), **metrics,
            "model_sha256": model_digest(run.model)}
        write_text(run.metrics, json.dumps(metrics, indent=2, default=_json_default))
    return estimator


def _lasting(source) -> str:
    """A data path as later verbs, run from any folder, find it again: absolute (a built-in or
    named set stays its name)."""
    if str(source) in BUILTINS or str(source) in NAMED_SETS:
        return str(source)
    path = Path(str(source))
    return str(path.resolve()) if path.exists() else str(source)


def _frame(X, names):
    """X with its features named: a DataFrame, or named rows read on demand."""
    import pandas as pd

    if isinstance(X, RowSource):
        return X.named(names)
    return pd.DataFrame(X, columns=names, copy=False)


def _run_figures(estimator, dataset, X, y, out: Path, preset: str) -> dict:
    # Figures and metrics use a fixed subset: importance-sampled scores of every sample of a
    # large set would take longer than the training itself.
    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(len(X), size=min(METRIC_SAMPLES, len(X)), replace=False))
    X_sub, y_sub = X[subset], None if y is None else y[subset]
    y_kw = {"y": y_sub} if estimator.is_conditional else {}
    shown = subset[:24]
    shown_y = {"y": y[shown]} if estimator.is_conditional else {}
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
    _merge(summary, _latent_map(codes, y_sub, out / "latent_map.png",
                                f"{what}: latent map (latent_dim={codes.shape[1]})"))
    reconstruction = estimator.reconstruct(X_sub, **y_kw)
    return {"metrics_on_samples": int(len(subset)),
            "reconstruction_mse": float(np.mean((reconstruction - X_sub.astype(np.float64)) ** 2)),
            "mean_score": float(np.mean(estimator.score_samples(X_sub, **y_kw))), **summary}


# ---------------------------------------------------------------------- the other verbs
@_writes_folder
def encode(*, model, source, out, data_options=None, fmt="parquet", projection="pca", device=None,
           trust_code=False) -> Path:
    estimator, data = _load(model, source, data_options, device, trust_code)
    codes = estimator.transform(data.X)
    ids = data.ids if data.ids is not None else np.arange(len(codes))
    codes_path = encode_tasks.write_codes(codes, out / f"codes.{fmt}", ids=ids, labels=data.y)
    summary = {"data": data.name, "n": len(codes), "latent_dim": codes.shape[1], "codes": codes_path.name}
    _merge(summary, _latent_map(codes, data.y, out / "latent_map.png",
                                f"Codes of {data.name} (latent_dim={codes.shape[1]})", method=projection))
    return _summary(out, "encode.json", summary, model)


@_writes_folder
def reconstruct(*, model, source, out, data_options=None, n_show=12, device=None, trust_code=False) -> Path:
    """Reconstructions of any data: an array in the input's shape (and a table for tables),
    the error of each input, and a figure of the inputs above their reconstructions."""
    import pandas as pd

    estimator, data = _load(model, source, data_options, device, trust_code)
    X, n = data.X, len(data.X)
    if estimator.is_conditional and data.y is None:
        raise InvalidInputError("a conditional model reconstructs with the labels: give labelled data")
    ids = data.ids if data.ids is not None else np.arange(n)
    as_table = data.feature_names is not None and data.windows is None
    files = ["reconstructions.npy", "errors.csv"] + (["reconstructions.csv"] if as_table else [])
    errors, shown = np.empty(n), None
    # A chunk of rows at a time, into files as large as the input: the data may not fit in memory.
    with contextlib.ExitStack() as stack:
        paths = {name: stack.enter_context(atomic_path(out / name)) for name in files}
        X_hat_file = stack.enter_context(open(paths["reconstructions.npy"], "wb"))
        write_npy_header(X_hat_file, X.shape, np.float32)
        step = chunk_rows(int(np.prod(X.shape[1:])))
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            chunk = np.asarray(X[rows])
            y_kw = {"y": data.y[rows]} if estimator.is_conditional else {}
            X_hat = estimator.reconstruct(chunk, **y_kw)
            X_hat_file.write(np.ascontiguousarray(X_hat, dtype=np.float32).tobytes())
            if shown is None:  # the figure's inputs and reconstructions
                shown = chunk[:n_show], X_hat[:n_show]
            errors[rows] = ((X_hat - chunk.astype(np.float64)) ** 2).reshape(len(chunk), -1).mean(axis=1)
            if as_table:
                frame = pd.DataFrame(X_hat, columns=data.feature_names)
                frame.insert(0, "id", ids[rows])
                frame.to_csv(paths["reconstructions.csv"], index=False, mode="a", header=start == 0)
        X_hat_file.close()
        pd.DataFrame({"id": ids, "mse": errors}).to_csv(paths["errors.csv"], index=False)
    plots.reconstruction_figure(*shown, out / "reconstructions.png",
                                title=f"{data.name}: inputs and reconstructions")
    summary = {"data": data.name, "n": n, "mean_mse": float(errors.mean()), "files": files,
               "figures": ["reconstructions.png"]}
    return _summary(out, "reconstruct.json", summary, model)


@_writes_folder
def evaluate(*, model, source, out, data_options=None, device=None, trust_code=False) -> Path:
    estimator, data = _load(model, source, data_options, device, trust_code)
    data = _in_memory(data, "evaluate compares the codes with PCA fitted on the data in memory")
    summary: dict = {"data": data.name, "figures": []}
    if data.y is not None and len(np.unique(data.y)) > 1:
        rows = encode_tasks.evaluate_representation(estimator, data.X, data.y)
        summary["representation"] = rows
        plots.comparison_bars(rows, ["kmeans_nmi", "kmeans_ari", "knn5_accuracy", "logistic_accuracy"],
                              out / "representation.png",
                              title=f"{data.name}: codes against PCA at dimension {estimator.latent_dim}")
        summary["figures"].append("representation.png")
    if estimator.latent_dim == 1 and np.asarray(data.X).ndim == 2 and data.X.shape[1] == 2:
        result = encode_tasks.parabola_comparison(estimator, data.X)
        plots.parabola_figure(np.asarray(data.X), result["ae_curve"], result["pca_curve"],
                              result["ae_mse"], result["pca_mse"], out / "parabola.png")
        summary["curve"] = {"autoencoder_mse": result["ae_mse"], "pca_mse": result["pca_mse"]}
        summary["figures"].append("parabola.png")
    if not summary["figures"]:
        raise InvalidInputError(f"{data.name} has no labels to evaluate codes against; give labelled data "
                                "(e.g. --label-column), or 2-D points with a latent_dim=1 model")
    return _summary(out, "evaluate.json", summary, model)


@_writes_folder
def traverse(*, model, out, source=None, index=None, dims=None, steps=9, span=3.0,
             data_options=None, label=None, device=None, trust_code=False) -> Path:
    estimator, x = load_model(model, device, trust_code), None
    if index is not None:
        data = _for_model(estimator, load_data(source, **(data_options or {})))
        if not 0 <= index < len(data):
            raise InvalidInputError(f"--index {index} is outside the data (0..{len(data) - 1})")
        x = data.X[index]
    label = latent.decoding_label(estimator, label)
    dims = list(range(min(estimator.latent_dim, 10))) if dims is None else list(dims)
    grid, offsets = latent.traverse(estimator, x, dims, steps, span, y=label)
    _save_array(out / "traverse.npy", grid)
    plots.rows_figure(list(grid), [f"z{d}" for d in dims], "Latent traversal: one row per dimension",
                      out / "traverse.png", col_labels=[f"{o:+.1f}σ" for o in offsets])
    return _summary(out, "traverse.json", {"dims": dims, "offsets": offsets, "around": "origin"
                                           if x is None else f"sample {index}", "figures": ["traverse.png"]},
                    model)


@_writes_folder
def interpolate(*, model, source, out, pair=(0, 1), steps=10, data_options=None, label=None,
                device=None, trust_code=False) -> Path:
    estimator, data = _load(model, source, data_options, device, trust_code)
    i, j = pair
    for k in (i, j):
        if not 0 <= k < len(data):
            raise InvalidInputError(f"--pair index {k} is outside the data (0..{len(data) - 1})")
    label = latent.decoding_label(estimator, label)
    rows = [latent.interpolate(estimator, data.X[i], data.X[j], steps, method, y=label)
            for method in ("linear", "spherical")]
    _save_array(out / "interpolate.npy", np.stack(rows))
    plots.rows_figure(rows, ["linear", "spherical"], f"Interpolation from sample {i} to sample {j}",
                      out / "interpolate.png", col_labels=[f"{t:.2f}" for t in np.linspace(0, 1, steps)])
    return _summary(out, "interpolate.json", {"pair": [i, j], "steps": steps, "figures": ["interpolate.png"]},
                    model)


@_writes_folder
def attribute(*, model, source, out, group_a=None, group_b=None, factor=None,
              strengths=(0.0, 0.5, 1.0, 1.5), n_show=8, data_options=None, device=None,
              trust_code=False) -> Path:
    """Attribute vector from labels (group_a minus group_b) or a factor (top minus bottom quartile)."""
    estimator, data = _load(model, source, data_options, device, trust_code)
    if factor is not None:
        if factor not in data.factors:
            raise InvalidInputError(f"{data.name} has no factor {factor!r}; it has {sorted(data.factors)}")
        values = data.factors[factor]
        with_attr, without = values >= np.quantile(values, 0.75), values <= np.quantile(values, 0.25)
        name = f"more {factor}"
    else:
        if data.y is None or group_a is None or group_b is None:
            raise InvalidInputError("give --group-a and --group-b (labels of the data), or --factor")
        labels = np.asarray(data.y).astype(str)
        with_attr, without = labels == str(group_a), labels == str(group_b)
        name = f"{group_a} minus {group_b}"
    for group, members in ((group_a or "top quartile", with_attr), (group_b or "bottom quartile", without)):
        if not members.any():
            raise InvalidInputError(f"no input of {data.name} is in the group {group!r}")
    vector = latent.attribute_vector(estimator, select_rows(data.X, np.flatnonzero(with_attr)),
                                     select_rows(data.X, np.flatnonzero(without)))
    shown = np.flatnonzero(without)[:n_show]
    decoded = latent.apply_attribute(estimator, data.X[shown], vector, strengths)
    plots.rows_figure(list(decoded), [f"α = {a:g}" for a in strengths], f"Attribute vector: {name}",
                      out / "attribute.png")
    _save_array(out / "attribute_vector.npy", vector)
    summary = {"attribute": name, "norm": float(np.linalg.norm(vector)), "strengths": list(strengths),
               "figures": ["attribute.png"]}
    return _summary(out, "attribute.json", summary, model)


@_writes_folder
def sample(*, model, out, n=36, source=None, mixture_components=0, data_options=None,
           random_state=0, device=None, trust_code=False) -> Path:
    """Prior samples; with ``mixture_components`` and data, samples from a mixture on its codes."""
    estimator = load_model(model, device, trust_code)
    figures = ["samples.png"]
    if mixture_components:
        if source is None:
            raise InvalidInputError("sampling from a code mixture needs --data (the codes to fit)")
        data = _for_model(estimator, load_data(source, **(data_options or {})))
        drawn = latent.sample_code_mixture(estimator, data.X, n, mixture_components, random_state)
        where = f"a {mixture_components}-component Gaussian mixture on the codes"
    else:
        drawn = estimator.sample(n, random_state=random_state)
        where = "the prior" if estimator.is_variational else "a Gaussian fitted to the training codes"
    _save_array(out / "samples.npy", drawn)
    plots.samples_figure(drawn, out / "samples.png", title=f"Samples from {where}")
    if estimator.likelihood_ == "gaussian_learned":
        means = estimator.sample(12, random_state=random_state)
        draws = estimator.sample(12, random_state=random_state, from_likelihood=True)
        plots.rows_figure([means, draws], ["decoder mean", "draw from p(x|z)"],
                          "Learned-variance decoder: the mean and a sample for the same codes",
                          out / "mean_and_draws.png")
        figures.append("mean_and_draws.png")
    return _summary(out, "sample.json", {"n": n, "from": where, "figures": figures}, model)


@_writes_folder
def detect(*, model, source, out, data_options=None, normal_source=None, contamination=0.01,
           score="auto", n_neighbors="auto", code_density=False, anomaly_label=None, n_show=12,
           device=None, trust_code=False) -> Path:
    """Score every input, flag those above a threshold, and draw where the anomalies are.

    The threshold is the (1 - contamination) quantile of the scores of ``normal_source`` (data
    known to be normal), or, without it, of ``source`` itself (flag that fraction).
    """
    import pandas as pd

    estimator, data = _load(model, source, data_options, device, trust_code)
    if estimator.is_conditional:
        raise InvalidInputError("detect needs an unconditional model (ae, dae, vae): a conditional model "
                                "would need the true class of every input it scores")
    normal = data
    if normal_source:
        options = dict(data_options or {})
        if data.windows is None and data.feature_names:  # a table: the same features, no labels needed
            options.update(label_column=None, id_column=None, feature_columns=data.feature_names)
        normal = _for_model(estimator, load_data(normal_source, **options))
    truth = _anomaly_truth(data.y, anomaly_label)  # checked before any work is done
    detector = AnomalyDetector.from_fitted(estimator, normal.X, score=score, n_neighbors=n_neighbors,
                                           code_density=code_density, contamination=contamination,
                                           device=estimator.device)
    scores = detector.anomaly_score(data.X)
    flagged = scores > detector.threshold_
    ids = data.ids if data.ids is not None else np.arange(len(scores))
    table = pd.DataFrame({"id": ids, "score": scores, "flagged": flagged})
    if data.y is not None:
        table.insert(1, "label", data.y)
    with atomic_path(out / "scores.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(out / "flagged_ids.txt", "".join(f"{i}\n" for i in ids[flagged]))
    summary = {"data": data.name, "n": len(scores), "n_flagged": int(flagged.sum()),
               "threshold": detector.threshold_, "threshold_from": normal.name if normal_source else
               f"the top {contamination:.1%} of {data.name}", "score": detector.score_,
               "n_neighbors": detector.n_neighbors_, "figures": []}

    worst = np.argsort(-scores)[:n_show]
    X = data.X[worst]
    if data.windows is not None:  # windows of several columns are 2-D samples, not images
        windows = data.windows
        per_timestamp = windows.to_series(scores, reduce="max")
        plots.timeseries_scores(windows.timestamps, channel(windows.values, 0), per_timestamp,
                                detector.threshold_,
                                windows.spans(flagged), out / "timeseries.png",
                                title=f"{data.name}: anomaly score per timestamp, flagged windows shaded")
        summary["figures"].append("timeseries.png")
        summary["flagged_spans"] = [[str(a), str(b)] for a, b in windows.spans(flagged)]
    elif plots.is_image_batch(X):
        plots.heatmap_figure(X, estimator.reconstruct(X), detector.error_maps(X),
                             scores[worst], out / "most_anomalous.png",
                             title=f"The {len(worst)} most anomalous inputs of {data.name}")
        summary["figures"].append("most_anomalous.png")
    else:
        plots.reconstruction_figure(X[:6], estimator.reconstruct(X[:6]),
                                    out / "most_anomalous.png",
                                    title=f"The most anomalous rows of {data.name} and their reconstructions")
        summary["figures"].append("most_anomalous.png")
    if truth is not None and 0 < truth.sum() < len(truth):
        summary.update(detection_metrics(scores, truth))
        plots.roc_pr_figure(scores, truth, out / "roc_pr.png", title=f"Detection on {data.name}")
        summary["figures"].append("roc_pr.png")
    elif truth is not None:
        only = "anomalies" if truth.all() else "normal inputs"
        summary["figures_skipped"] = {"roc_pr.png": f"the labels mark only {only}: ROC and PR curves "
                                                    "need both kinds"}
    return _summary(out, "detect.json", summary, model)


def _anomaly_truth(y, anomaly_label):
    """1 where the label marks an anomaly: ``anomaly_label``, or 1 when the labels are 0/1."""
    if y is None:
        return None
    labels = np.asarray(y)
    if anomaly_label is not None:
        truth = labels.astype(str) == str(anomaly_label)
        if not truth.any():
            values = np.unique(labels.astype(str))[:10].tolist()
            raise InvalidInputError(f"no input has the label {anomaly_label!r} (--anomaly-label); the labels "
                                    f"are {values}")
        return truth
    if set(np.unique(labels).tolist()) <= {0, 1}:
        return labels == 1
    return None


@_writes_folder
def restore(*, task, model, source, out, data_options=None, level=None, mask_mode=None,
            patch_size=None, n_show=10, limit=2000, device=None, trust_code=False) -> Path:
    """denoise / inpaint / colourise: damage clean data as in training, restore, compare."""
    estimator, data = _load(model, source, data_options, device, trust_code)
    X = np.asarray(data.X[:limit])  # quality is a mean: a bounded sample keeps the filters quick
    result = restore_and_compare(estimator, X, task, level, mask_mode, patch_size)
    _save_array(out / "restored.npy", result["restored"])
    rows = [X[:n_show], result["damaged"][:n_show], result["restored"][:n_show], result["classical"][:n_show]]
    damage_label = result["corruption"] if result["corruption"] == "greyscale" else \
        f"{result['corruption']} {result['level']:g}"
    labels = ["clean", damage_label, "restored", result["classical_name"]]
    if result["corruption"] == "greyscale":
        rows, labels = rows[:3], labels[:3]
    q = result["quality"]
    plots.rows_figure(rows, labels, f"{task}: PSNR {q['damaged']['psnr_db']:.1f} dB damaged, "
                      f"{q['restored']['psnr_db']:.1f} dB restored, {q['classical']['psnr_db']:.1f} dB "
                      f"{result['classical_name']}", out / f"{task}.png",
                      value_range=(float(X.min()), float(X.max())))
    return _summary(out, f"{task}.json", {"data": data.name, "n": len(X), "corruption": result["corruption"],
                                          "level": result["level"], "classical": result["classical_name"],
                                          "quality": q, "figures": [f"{task}.png"]}, model)


@_writes_folder
def density(*, model, source, out, data_options=None, k=1000, n_show=10, device=None,
            trust_code=False) -> Path:
    """log p(x) per input (importance-sampled), bits per dimension where meaningful, and the
    uncertainty of each code; figures of the least and most certain inputs."""
    import pandas as pd

    estimator, data = _load(model, source, data_options, device, trust_code)
    X = data.X
    table = {"id": data.ids if data.ids is not None else np.arange(len(X))}
    if data.y is not None:
        table["label"] = data.y
    summary: dict = {"data": data.name, "n": len(X), "figures": []}
    if estimator.is_variational:
        log_px = estimator.log_likelihood(X, k=k)  # a conditional model marginalises over classes
        table["log_px"] = log_px
        summary.update(k=k, mean_log_px_nats=float(log_px.mean()))
        bpd = density_tasks.bits_per_dim(estimator, log_px)
        if bpd is not None:
            table["bits_per_dim"] = bpd
            summary["mean_bits_per_dim"] = float(bpd.mean())
    uncertainty, groups = density_tasks.code_uncertainty(estimator, X, data.y)
    table["uncertainty"] = uncertainty
    summary["uncertainty_by"] = "class" if data.y is not None else "k-means cluster of the codes"
    with atomic_path(out / "density.csv") as tmp:
        pd.DataFrame(table).to_csv(tmp, index=False)
    order = np.argsort(uncertainty)
    rows = [X[order[:n_show]], X[order[::-1][:n_show]]]
    plots.rows_figure(rows, ["most certain", "least certain"],
                      f"{data.name}: codes nearest to and farthest from their {summary['uncertainty_by']}'s "
                      "centre", out / "uncertainty.png")
    summary["figures"].append("uncertainty.png")
    return _summary(out, "density.json", summary, model)


def trained_on(model) -> tuple[str | None, dict]:
    """The source and data options a run folder was trained on; (None, {}) for a model folder."""
    run = RunFolder.holding_model(model)
    return (None, {}) if run is None else run.trained_on()


def explorer(*, model, source=None, data_options=None, device=None, trust_code=False,
             max_points=None):
    """The ``Explorer`` (aekit explore) of a run or model folder, with ``source`` on its map
    (default: the data a run folder was trained on)."""
    from .explorer import MAX_POINTS, Explorer

    estimator = load_model(model, device, trust_code)
    if source is None:
        source, data_options = trained_on(model)
        if source is None:
            raise InvalidInputError(f"{model} does not say which data its model was trained on: "
                                    "give the data to map with --data")
    data = _for_model(estimator, load_data(source, **(data_options or {})))
    flat_windows = data.windows is not None and len(estimator.input_shape_) == 1
    return Explorer(estimator, data.X, data.y, feature_names=data.feature_names,
                    window_channels=data.windows.channels if flat_windows else None,
                    max_points=max_points or MAX_POINTS)


def export(*, model, out, normal_source=None, score="auto", n_neighbors="auto", contamination=0.01,
           trust_code=False) -> dict:
    """Write the model as ONNX (``aekit.export_onnx``), with its detector when there is normal
    data to calibrate one: ``normal_source``, else the data a run folder was trained on. A
    model of windows gets a ``StreamDetector``'s (what ``aekit watch`` would run)."""
    from .export import export_onnx
    from .tasks.watch import StreamDetector

    estimator = load_model(model, "cpu", trust_code)
    # A run's data options (its window, its columns) read the normal data as the model was trained.
    run_source, options = trained_on(model)
    normal_source = normal_source or run_source
    exported = estimator
    if normal_source:
        data = _for_model(estimator, load_data(normal_source, **options))
        if data.windows is not None:
            exported = StreamDetector(estimator, data.windows.values, score=score)
        else:
            exported = AnomalyDetector.from_fitted(estimator, data.X, score=score, n_neighbors=n_neighbors,
                                                   contamination=contamination, device="cpu")
    manifest = export_onnx(exported, out)
    manifest["out"] = str(out)
    manifest["calibrated_on"] = str(normal_source) if normal_source else None
    return manifest
