"""What each CLI verb does, as plain functions: load the model and data, run the task, write files.

Every command writes into ``out`` (created if needed) and returns the path of its JSON summary,
written last, so a folder with that summary is complete.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import plots
from ._atomic import atomic_path, write_text
from .data import load as load_data
from .errors import InvalidInputError, ModelFileError
from .persistence import load as load_model_folder
from .tasks import density as density_tasks
from .tasks import encode as encode_tasks
from .tasks import latent
from .tasks.detect import AnomalyDetector, detection_metrics
from .tasks.restore import restore_and_compare


def load_model(path):
    """A model folder, or a run folder that holds one in ``model/``."""
    path = Path(path)
    if (path / "model" / "config.json").is_file():
        path = path / "model"
    if not (path / "config.json").is_file():
        raise ModelFileError(f"{path} holds no model: give a run folder or a model folder")
    return load_model_folder(path)


def _summary(out: Path, name: str, payload: dict) -> Path:
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


def encode(model_path, source, out, data_options=None, fmt="parquet", projection="pca") -> Path:
    model, data = load_model(model_path), load_data(source, **(data_options or {}))
    out = Path(out)
    codes = model.transform(data.X)
    ids = data.ids if data.ids is not None else np.arange(len(codes))
    codes_path = encode_tasks.write_codes(codes, out / f"codes.{fmt}", ids=ids, labels=data.y)
    plots.latent_map(codes, data.y, out / "latent_map.png", method=projection,
                     title=f"Codes of {data.name} (latent_dim={codes.shape[1]})")
    return _summary(out, "encode.json", {"data": data.name, "n": len(codes), "latent_dim": codes.shape[1],
                                         "codes": codes_path.name, "figures": ["latent_map.png"]})


def evaluate(model_path, source, out, data_options=None) -> Path:
    model, data = load_model(model_path), load_data(source, **(data_options or {}))
    out = Path(out)
    summary: dict = {"data": data.name, "figures": []}
    if data.y is not None and len(np.unique(data.y)) > 1:
        rows = encode_tasks.evaluate_representation(model, data.X, data.y)
        summary["representation"] = rows
        plots.comparison_bars(rows, ["kmeans_nmi", "kmeans_ari", "knn5_accuracy", "logistic_accuracy"],
                              out / "representation.png",
                              title=f"{data.name}: codes against PCA at dimension {model.latent_dim}")
        summary["figures"].append("representation.png")
    if model.latent_dim == 1 and np.asarray(data.X).ndim == 2 and data.X.shape[1] == 2:
        result = encode_tasks.parabola_comparison(model, data.X)
        plots.parabola_figure(np.asarray(data.X), result["ae_curve"], result["pca_curve"],
                              result["ae_mse"], result["pca_mse"], out / "parabola.png")
        summary["curve"] = {"autoencoder_mse": result["ae_mse"], "pca_mse": result["pca_mse"]}
        summary["figures"].append("parabola.png")
    if not summary["figures"]:
        raise InvalidInputError(f"{data.name} has no labels to evaluate codes against; give labelled data "
                                "(e.g. --label-column), or 2-D points with a latent_dim=1 model")
    return _summary(out, "evaluate.json", summary)


def traverse(model_path, out, source=None, index=None, dims=None, steps=9, span=3.0,
             data_options=None, label=None) -> Path:
    model, out = load_model(model_path), Path(out)
    x = None
    if index is not None:
        data = load_data(source, **(data_options or {}))
        if not 0 <= index < len(data):
            raise InvalidInputError(f"--index {index} is outside the data (0..{len(data) - 1})")
        x = data.X[index]
    label = _default_label(model, label)
    grid, offsets = latent.traverse(model, x, dims, steps, span, y=label)
    dims = list(range(min(model.latent_dim, 10))) if dims is None else list(dims)
    _save_array(out / "traverse.npy", grid)
    plots.rows_figure(list(grid), [f"z{d}" for d in dims], "Latent traversal: one row per dimension",
                      out / "traverse.png", col_labels=[f"{o:+.1f}σ" for o in offsets])
    return _summary(out, "traverse.json", {"dims": dims, "offsets": offsets, "around": "origin"
                                           if x is None else f"sample {index}", "figures": ["traverse.png"]})


def _default_label(model, label):
    if not getattr(model, "_conditional", False):
        return None
    if label is None:
        return model.classes_[0]
    matches = [c for c in model.classes_ if str(c) == str(label)]
    if not matches:
        raise InvalidInputError(f"--label {label!r} is not one of the model's classes "
                                f"{model.classes_.tolist()}")
    return matches[0]


def interpolate(model_path, source, out, pair=(0, 1), steps=10, data_options=None, label=None) -> Path:
    model, data, out = load_model(model_path), load_data(source, **(data_options or {})), Path(out)
    i, j = pair
    for k in (i, j):
        if not 0 <= k < len(data):
            raise InvalidInputError(f"--pair index {k} is outside the data (0..{len(data) - 1})")
    label = _default_label(model, label)
    rows = [latent.interpolate(model, data.X[i], data.X[j], steps, method, y=label)
            for method in ("linear", "spherical")]
    _save_array(out / "interpolate.npy", np.stack(rows))
    plots.rows_figure(rows, ["linear", "spherical"], f"Interpolation from sample {i} to sample {j}",
                      out / "interpolate.png", col_labels=[f"{t:.2f}" for t in np.linspace(0, 1, steps)])
    return _summary(out, "interpolate.json", {"pair": [i, j], "steps": steps, "figures": ["interpolate.png"]})


def attribute(model_path, source, out, group_a=None, group_b=None, factor=None,
              strengths=(0.0, 0.5, 1.0, 1.5), n_show=8, data_options=None) -> Path:
    """Attribute vector from labels (group_a minus group_b) or a factor (top minus bottom quartile)."""
    model, data, out = load_model(model_path), load_data(source, **(data_options or {})), Path(out)
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
    vector = latent.attribute_vector(model, data.X[with_attr], data.X[without])
    shown = np.flatnonzero(without)[:n_show]
    decoded = latent.apply_attribute(model, data.X[shown], vector, strengths)
    plots.rows_figure(list(decoded), [f"α = {a:g}" for a in strengths], f"Attribute vector: {name}",
                      out / "attribute.png")
    _save_array(out / "attribute_vector.npy", vector)
    return _summary(out, "attribute.json", {"attribute": name, "norm": float(np.linalg.norm(vector)),
                                            "strengths": list(strengths), "figures": ["attribute.png"]})


def sample(model_path, out, n=36, source=None, mixture_components=0, data_options=None,
           random_state=0) -> Path:
    """Prior samples; with ``mixture_components`` and data, samples from a mixture on its codes."""
    model, out = load_model(model_path), Path(out)
    figures = ["samples.png"]
    if mixture_components:
        if source is None:
            raise InvalidInputError("sampling from a code mixture needs --data (the codes to fit)")
        data = load_data(source, **(data_options or {}))
        drawn = latent.sample_code_mixture(model, data.X, n, mixture_components, random_state)
        where = f"a {mixture_components}-component Gaussian mixture on the codes"
    else:
        drawn = model.sample(n, random_state=random_state)
        where = "the prior" if model.model_.stochastic else "a Gaussian fitted to the training codes"
    _save_array(out / "samples.npy", drawn)
    plots.samples_figure(drawn, out / "samples.png", title=f"Samples from {where}")
    if model.model_.config.likelihood == "gaussian_learned":
        means = model.sample(12, random_state=random_state)
        draws = model.sample(12, random_state=random_state, from_likelihood=True)
        plots.rows_figure([means, draws], ["decoder mean", "draw from p(x|z)"],
                          "Learned-variance decoder: the mean and a sample for the same codes",
                          out / "mean_and_draws.png")
        figures.append("mean_and_draws.png")
    return _summary(out, "sample.json", {"n": n, "from": where, "figures": figures})


def detect(model_path, source, out, data_options=None, normal_source=None, contamination=0.01,
           score="auto", code_density=False, anomaly_label=None, n_show=12) -> Path:
    """Score every input, flag those above a threshold, and draw where the anomalies are.

    The threshold is the (1 - contamination) quantile of the scores of ``normal_source`` (data
    known to be normal), or, without it, of ``source`` itself (flag that fraction).
    """
    import pandas as pd

    model, out = load_model(model_path), Path(out)
    if getattr(model, "_conditional", False):
        raise InvalidInputError("detect needs an unconditional model (ae, dae, vae): a conditional model "
                                "would need the true class of every input it scores")
    data = load_data(source, **(data_options or {}))
    normal = data
    if normal_source:
        options = dict(data_options or {})
        if data.windows is None and data.feature_names:  # a table: the same features, no labels needed
            options.update(label_column=None, id_column=None, feature_columns=data.feature_names)
        normal = load_data(normal_source, **options)
    detector = AnomalyDetector.from_fitted(model, normal.X, score=score, code_density=code_density,
                                           contamination=contamination)
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
               f"the top {contamination:.1%} of {data.name}", "score": detector.score_, "figures": []}

    worst = np.argsort(-scores)[:n_show]
    X = np.asarray(data.X)
    if plots.is_image_batch(X):
        plots.heatmap_figure(X[worst], model.reconstruct(X[worst]), detector.error_maps(X[worst]),
                             scores[worst], out / "most_anomalous.png",
                             title=f"The {len(worst)} most anomalous inputs of {data.name}")
        summary["figures"].append("most_anomalous.png")
    elif data.windows is None:
        plots.reconstruction_figure(X[worst[:6]], model.reconstruct(X[worst[:6]]), out / "most_anomalous.png",
                                    title=f"The most anomalous rows of {data.name} and their reconstructions")
        summary["figures"].append("most_anomalous.png")
    else:
        windows = data.windows
        per_timestamp = windows.to_series(scores, reduce="max")
        plots.timeseries_scores(windows.timestamps, windows.values[:, 0], per_timestamp, detector.threshold_,
                                windows.spans(flagged), out / "timeseries.png",
                                title=f"{data.name}: anomaly score per timestamp, flagged windows shaded")
        summary["figures"].append("timeseries.png")
        summary["flagged_spans"] = [[str(a), str(b)] for a, b in windows.spans(flagged)]
    truth = _anomaly_truth(data.y, anomaly_label)
    if truth is not None:
        summary.update(detection_metrics(scores, truth))
        plots.roc_pr_figure(scores, truth, out / "roc_pr.png", title=f"Detection on {data.name}")
        summary["figures"].append("roc_pr.png")
    return _summary(out, "detect.json", summary)


def _anomaly_truth(y, anomaly_label):
    """1 where the label marks an anomaly: ``anomaly_label``, or 1 when the labels are 0/1."""
    if y is None:
        return None
    labels = np.asarray(y)
    if anomaly_label is not None:
        truth = labels.astype(str) == str(anomaly_label)
        if not truth.any():
            raise InvalidInputError(f"no input has the label {anomaly_label!r} (--anomaly-label)")
        return truth
    if set(np.unique(labels).tolist()) <= {0, 1}:
        return labels == 1
    return None


def restore(task, model_path, source, out, data_options=None, level=None, mask_mode=None,
            patch_size=None, n_show=10, limit=2000) -> Path:
    """denoise / inpaint / colourise: damage clean data as in training, restore, compare."""
    model, out = load_model(model_path), Path(out)
    data = load_data(source, **(data_options or {}))
    X = np.asarray(data.X)[:limit]  # quality is a mean: a bounded sample keeps the filters quick
    result = restore_and_compare(model, X, task, level, mask_mode, patch_size)
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
                                          "quality": q, "figures": [f"{task}.png"]})


def density(model_path, source, out, data_options=None, k=1000, n_show=10) -> Path:
    """log p(x) per input (importance-sampled), bits per dimension where meaningful, and the
    uncertainty of each code; figures of the least and most certain inputs."""
    import pandas as pd

    model, out = load_model(model_path), Path(out)
    data = load_data(source, **(data_options or {}))
    X = np.asarray(data.X)
    table = {"id": data.ids if data.ids is not None else np.arange(len(X))}
    if data.y is not None:
        table["label"] = data.y
    summary: dict = {"data": data.name, "n": len(X), "figures": []}
    if model.model_.stochastic:
        log_px = model.log_likelihood(X, k=k)  # a conditional model marginalises over classes
        table["log_px"] = log_px
        summary.update(k=k, mean_log_px_nats=float(log_px.mean()))
        bpd = density_tasks.bits_per_dim(model, log_px)
        if bpd is not None:
            table["bits_per_dim"] = bpd
            summary["mean_bits_per_dim"] = float(bpd.mean())
    uncertainty, groups = density_tasks.code_uncertainty(model, X, data.y)
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
    return _summary(out, "density.json", summary)
