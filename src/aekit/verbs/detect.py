"""aekit detect: score every input, flag those above a threshold, and draw where the
anomalies are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from .._atomic import atomic_path, write_text
from ..data.table_stream import channel
from ..detectors import SCORES, AnomalyDetector, detection_metrics
from ..errors import InvalidInputError
from .base import Verb, neighbors, opt, with_data
from .common import data_for, load_with_data, write_summary, writes_folder


@writes_folder
def detect(*, model, source, out, data_options=None, normal_source=None, contamination=0.01,
           score="auto", n_neighbors="auto", code_density=False, anomaly_label=None, n_show=12,
           device=None, trust_code=False) -> Path:
    """Score every input, flag those above a threshold, and draw where the anomalies are.

    With ``normal_source`` (data known to be normal), ``contamination`` is the false-alarm rate
    accepted: the threshold and each input's ``p_value`` and ``surprise`` (-log10 p) are
    calibrated on normal rows the model did not train on (the rows its fit held out, when
    ``normal_source`` is its training data). Without it, the top ``contamination`` of
    ``source`` itself is flagged, and p-values are relative to ``source``.
    """
    import pandas as pd

    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    if estimator.is_conditional:
        raise InvalidInputError("detect needs an unconditional model (ae, dae, vae): a conditional model "
                                "would need the true class of every input it scores")
    normal = data
    if normal_source:
        options = dict(data_options or {})
        if data.windows is None and data.feature_names:  # a table: the same features, no labels needed
            options.update(label_column=None, id_column=None, feature_columns=data.feature_names)
        normal = data_for(estimator, normal_source, options)
    truth = _anomaly_truth(data.y, anomaly_label)  # checked before any work is done
    detector = AnomalyDetector.from_fitted(estimator, normal.X, score=score, n_neighbors=n_neighbors,
                                           code_density=code_density, contamination=contamination,
                                           device=estimator.device)
    scores = detector.anomaly_score(data.X)
    flagged = scores > detector.threshold_
    ids = data.ids if data.ids is not None else np.arange(len(scores))
    p_value = detector.calibration_.p_value(scores)
    table = pd.DataFrame({"id": ids, "score": scores, "p_value": p_value, "surprise": -np.log10(p_value),
                          "flagged": flagged})
    if data.y is not None:
        table.insert(1, "label", data.y)
    worst = np.argsort(-scores, kind="stable")[:n_show]
    explained = _explain(detector, data, np.union1d(np.flatnonzero(flagged), worst))
    if explained is not None:  # which columns or channels made each flagged row anomalous
        rows, explanation = explained
        top = np.full(len(scores), "", dtype=object)
        top[rows] = explanation.describe(3)
        table["top_contributors"] = np.where(flagged, top, "")
    with atomic_path(out / "scores.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(out / "flagged_ids.txt", "".join(f"{i}\n" for i in ids[flagged]))
    summary = {"data": data.name, "n": len(scores), "n_flagged": int(flagged.sum()),
               "threshold": detector.threshold_, "false_alarm_rate": contamination,
               "threshold_from": f"{normal.name}: {detector.calibrated_on_}" if normal_source else
               f"the top {contamination:.1%} of {data.name}", "calibration": detector.calibration_.describe(),
               "score": detector.score_,
               "n_neighbors": detector.n_neighbors_, "figures": []}
    _draw_anomalies(summary, detector, data, scores, flagged, out, n_show)
    if explained is not None:
        _draw_contributions(summary, explained, ids, worst, data.name, out)
    _draw_detection(summary, scores, truth, data.name, out)
    return write_summary(out, "detect.json", summary, model)


def _draw_anomalies(summary: dict, detector, data, scores, flagged, out: Path, n_show: int) -> None:
    """Where the anomalies are: a time series with its flagged windows, heat maps of the most
    anomalous images, or the most anomalous rows beside their reconstructions."""
    estimator = detector.model_
    worst = np.argsort(-scores, kind="stable")[:n_show]
    X = data.X[worst]
    if data.windows is not None:  # windows of several columns are 2-D samples, not images
        windows = data.windows
        plots.timeseries_scores(windows.timestamps, channel(windows.values, 0),
                                windows.to_series(scores, reduce="max"), detector.threshold_,
                                windows.spans(flagged), out / "timeseries.png",
                                title=f"{data.name}: anomaly score per timestamp, flagged windows shaded")
        summary["figures"].append("timeseries.png")
        summary["flagged_spans"] = [[str(a), str(b)] for a, b in windows.spans(flagged)]
    elif plots.is_image_batch(X):
        plots.heatmap_figure(X, estimator.reconstruct(X), detector.error_maps(X), scores[worst],
                             out / "most_anomalous.png",
                             title=f"The {len(worst)} most anomalous inputs of {data.name}")
        summary["figures"].append("most_anomalous.png")
    else:
        plots.reconstruction_figure(X[:6], estimator.reconstruct(X[:6]), out / "most_anomalous.png",
                                    title=f"The most anomalous rows of {data.name} and their reconstructions")
        summary["figures"].append("most_anomalous.png")


def _explain(detector, data, rows):
    """The explanation of ``rows`` of a table or of windows (images have their heat maps):
    ``(rows, Explanation)``, or None."""
    if len(rows) == 0:
        return None
    X = data.X[rows]
    if data.windows is not None:
        flat = len(detector.model_.input_shape_) == 1
        return rows, detector.explain(X, channels=data.windows.channels if flat else None,
                                      names=data.windows.columns)
    if plots.is_image_batch(X):
        return None
    return rows, detector.explain(X, names=data.feature_names)


def _draw_contributions(summary: dict, explained, ids, worst, name: str, out: Path) -> None:
    """Where the most anomalous rows' scores come from: per column for a table; per channel
    and time step for the most anomalous window."""
    rows, explanation = explained
    at = np.searchsorted(rows, worst)
    if explanation.kind == "columns":
        plots.contributions_figure(explanation.contributions[at], [str(ids[i]) for i in worst],
                                   list(explanation.names), out / "contributions.png",
                                   title=f"What makes the most anomalous rows of {name} anomalous",
                                   xlabel="column")
    else:
        window = explanation.contributions[at[0]]
        plots.contributions_figure(window, list(explanation.names), [str(t) for t in range(window.shape[1])],
                                   out / "contributions.png", xlabel="time step in the window (oldest first)",
                                   title=f"What makes window {ids[worst[0]]} of {name} anomalous")
    summary["figures"].append("contributions.png")


def _draw_detection(summary: dict, scores, truth, name: str, out: Path) -> None:
    """ROC and PR curves and their areas, where labels mark both kinds of input."""
    if truth is not None and 0 < truth.sum() < len(truth):
        summary.update(detection_metrics(scores, truth))
        plots.roc_pr_figure(scores, truth, out / "roc_pr.png", title=f"Detection on {name}")
        summary["figures"].append("roc_pr.png")
    elif truth is not None:
        only = "anomalies" if truth.all() else "normal inputs"
        summary["figures_skipped"] = {"roc_pr.png": f"the labels mark only {only}: ROC and PR curves "
                                                    "need both kinds"}


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


VERB = Verb("detect", "score inputs, flag anomalies, and draw ROC/PR, heat maps or time-series plots",
            lambda a: detect(**with_data(a), normal_source=a.normal_data, contamination=a.contamination,
                             score=a.score, n_neighbors=a.neighbors, code_density=a.code_density,
                             anomaly_label=a.anomaly_label), options=[
                opt("--normal-data", help="data known to be normal: sets the threshold (default: --data)"),
                opt("--contamination", type=float, default=AnomalyDetector().contamination,
                    help="the false-alarm rate accepted: the share of normal inputs above the threshold, "
                         "calibrated on --normal-data rows the model did not train on (default: "
                         f"{AnomalyDetector().contamination})"),
                opt("--score", choices=list(SCORES), default="auto",
                    help="what makes an input anomalous (see docs/tasks.md; default: 'relative' for images, "
                         "-log p(x) for VAEs of vectors, else 'reconstruction')"),
                opt("--neighbors", type=neighbors, default="auto", metavar="auto|K",
                    help="add the distance to the K-th nearest normal row; 0: none (default: auto, 5 for "
                         "table rows and flat windows, none for images)"),
                opt("--code-density", action="store_true", help="add how unusual the code is"),
                opt("--anomaly-label", help="the label that marks anomalies (default: 1 for 0/1 labels)"),
            ])
