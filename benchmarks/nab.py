"""Question: on real machine metrics, does a windowed autoencoder find incidents with few false alarms?

The 25 NAB series in ../shared/data/nab (protocol in ../shared/data/README.md). Each series is cut
into sliding windows of WINDOW rows (stride 1) with ``aekit.data.load``; the window ending at
row t scores row t, so every detector is causal, as it would be on a live machine. The first
15% of each series (NAB's probationary period, anomaly-free) is all any detector learns from:
its first 80% trains, its last 20% sets the threshold at the highest score seen there
("nothing in the healthy period would have alarmed"). Compared on the same windows:

* aekit:  ``aekit.VAE`` on the windows, scored by ``AnomalyDetector.from_fitted`` (-log p(x)),
  and ``aekit.AutoEncoder`` (reconstruction error)
* rolling z-score:  |x_t - mean| / std of the window's earlier rows
* IsolationForest:  scikit-learn's, on the same windows

Per series: labelled windows detected (a flagged row inside the window) and false alarms
(runs of consecutive flagged rows outside every labelled window), after the probation.

    python benchmarks/nab.py [--quick] [--window 32]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

import aekit
from aekit.data import load
from common import shared_data, write_result

PROBATION, HOLDOUT = 0.15, 0.2


def rolling_z(X: np.ndarray) -> np.ndarray:
    past, now = X[:, :-1], X[:, -1]
    return np.abs(now - past.mean(1)) / (past.std(1) + 1e-9 * (1 + np.abs(past).max(1)))


def detectors(quick: bool) -> dict:
    """name -> fn(train_windows, all_windows) -> scores (higher = more anomalous)."""
    def aekit_detector(preset):
        def scores(train, X):
            model = preset(network="mlp", epochs=5 if quick else 50, verbose=0, random_state=0).fit(train)
            return aekit.AnomalyDetector.from_fitted(model, train).anomaly_score(X)
        return scores

    def isolation_forest(train, X):
        return -IsolationForest(random_state=0).fit(train).score_samples(X)

    return {"aekit VAE": aekit_detector(aekit.VAE), "aekit AutoEncoder": aekit_detector(aekit.AutoEncoder),
            "rolling z-score": lambda train, X: rolling_z(X),
            "IsolationForest": isolation_forest}


def evaluate(flagged: np.ndarray, in_window: np.ndarray, window_ids: np.ndarray):
    """(windows detected, false alarms) for per-row flags after the probation."""
    detected = len(np.unique(window_ids[flagged & in_window]))
    outside = flagged & ~in_window
    false_alarms = int(outside[0]) + int(np.sum(outside[1:] & ~outside[:-1]))  # runs of rows
    return detected, false_alarms


def run_series(nab: Path, name: str, labels: list, window: int, methods: dict) -> dict:
    data = load(nab / "data" / name, window=window, stride=1)
    stamps = pd.to_datetime(data.windows.timestamps)
    ends = data.windows.starts + window - 1  # the row each window scores
    n_rows = len(stamps)
    probation_end = int(PROBATION * n_rows)
    in_probation = ends < probation_end
    n_fit = int((1 - HOLDOUT) * in_probation.sum())
    fit_idx, holdout_idx = np.flatnonzero(in_probation)[:n_fit], np.flatnonzero(in_probation)[n_fit:]
    after = ~in_probation
    window_ids = np.full(len(ends), -1)
    for i, (start, stop) in enumerate(labels):
        window_ids[(stamps[ends] >= pd.Timestamp(start)) & (stamps[ends] <= pd.Timestamp(stop))] = i
    row = {"series": name, "rows": n_rows, "anomaly_windows": len(labels)}
    X = data.X.astype(np.float64)
    for method, score in methods.items():
        start = time.perf_counter()
        scores = score(X[fit_idx], X)
        threshold = scores[holdout_idx].max()
        detected, false_alarms = evaluate(scores[after] > threshold, window_ids[after] >= 0,
                                          window_ids[after])
        row[f"{method}: detected"] = detected
        row[f"{method}: false alarms"] = false_alarms
        row[f"{method}: seconds"] = round(time.perf_counter() - start, 1)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three series, 5 epochs")
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    nab = shared_data("nab")
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    names = sorted(labels)
    if args.quick:
        names = ["artificialNoAnomaly/art_daily_small_noise.csv",
                 "artificialWithAnomaly/art_daily_jumpsup.csv",
                 "realKnownCause/machine_temperature_system_failure.csv"]
    methods = detectors(args.quick)
    rows = []
    for name in names:
        rows.append(run_series(nab, name, labels[name], args.window, methods))
        print(rows[-1], flush=True)
    totals = {"series": "total", "rows": sum(r["rows"] for r in rows),
              "anomaly_windows": sum(r["anomaly_windows"] for r in rows)}
    for key in rows[0]:
        if ": " in key:
            totals[key] = round(sum(r[key] for r in rows), 1)
    rows.append(totals)
    print(totals)
    write_result("nab", rows, quick=args.quick, window=args.window, probation=PROBATION,
                 holdout=HOLDOUT)


if __name__ == "__main__":
    main()
