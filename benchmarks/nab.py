"""Question: watching real machine metrics live, how well does aekit find incidents, as NAB scores it?

The 25 NAB series in ../shared/data/nab. Every detector learns from a series' probationary period
only (its first 15%, at most 750 rows, as NAB defines it; anomaly-free by construction) and then
scores every later row from the window of WINDOW rows that ends there, as a live machine would
be watched. Compared on the same windows, each through the same running score distribution as
``aekit.StreamDetector`` (``RunningScores``: the mean of the last 10 scores in standard
deviations of the last 2,000):

* aekit watch: the model ``aekit train --window 32 --stride 1`` trains (the temporal VAE on the
  probation's flat windows) through ``aekit.StreamDetector`` with its defaults, as ``aekit
  watch`` runs it: the model's view and the context view (each value against the 128 rows
  before it), episodes that end when the statistic is back at its running mean; its NAB score
  is that of the ``alarm`` column, no threshold optimised. Beside it the same model with each
  of those two changes undone, with both (the detector before them), and with continual
  learning (``refit_every=1000``: fine-tuned every 1,000 rows on the recent rows in no alarm
  episode; each new model refills the running distribution with its scores of the recent
  windows);
* aekit, earlier rows (the model's view alone, each episode ending below the level): the
  temporal VAE on ``(1, window)`` sequences, an MLP VAE and an MLP AutoEncoder, with the scores
  named in each row, and the temporal VAE with continual learning;
* rolling z-score: |x_t - mean| / std of the window's earlier rows;
* IsolationForest: scikit-learn's, trained on the probation's windows;
* random: a uniform random number per row (no running distribution).

Scored with NAB's standard profile (benchmarks/nab_score.py): each detector's ``alarm``
column (for the baselines, which have none, the first row of each run of rows whose z is at
or above StreamDetector's default alarm level, unusual >= 0.9999, z >= 3.72), and its
statistic z alarming once per run of rows above a threshold optimised once over the corpus.
Also per detector, from its alarm column: labelled windows detected and false alarms; and the
optimised NAB score of the raw score without the running distribution (an ablation).
Throughput: rows per second through ``StreamDetector.update_many`` (rows in blocks of 1,000)
and ``update`` (one row at a time) on the machine temperature series.

    python benchmarks/nab.py [--quick] [--window 32] [--detector NAME ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special
from sklearn.ensemble import IsolationForest

import aekit
from aekit.detectors import RunningScores
from common import shared_data, write_result
from nab_score import best_threshold, corpus_score, detections, prepare, probation_rows

DEFAULT_ALARM_Z = float(special.ndtri(0.9999))  # StreamDetector's alarm_level, as a z
QUICK_SERIES = ["artificialWithAnomaly/art_daily_jumpsup.csv", "realKnownCause/nyc_taxi.csv",
                "realKnownCause/machine_temperature_system_failure.csv",
                "realTraffic/speed_7578.csv"]


def sliding(values: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, window)


def rolling_z(X: np.ndarray) -> np.ndarray:
    past, now = X[:, :-1], X[:, -1]
    return np.abs(now - past.mean(1)) / (past.std(1) + 1e-9 * (1 + np.abs(past).max(1)))


_TRAINED: dict = {}  # (make_model, series, window) -> the fitted model: two scores, one training


# StreamDetector as it was before its context view, episodes that end at the running mean and
# scores of the newest rows: the model's score of whole windows alone, an episode ending as soon
# as `unusual` drops below the alarm level.
MODEL_VIEW_ONLY = {"context": None, "episode_end": 0.9999, "newest_rows": None}


def aekit_stream(make_model, sequences: bool, score: str = "auto", **stream_options):
    """A detector: train ``make_model(epochs)`` on the probation's windows (once per series for
    every detector of the same model), then stream every later row through ``StreamDetector``
    with ``stream_options``; returns the healthy windows' scores, the later rows' scores, the
    stream's own statistic (z: its running distributions, the view that is more unusual) and
    its ``alarm`` column."""
    def run(values, probation, window, epochs):
        healthy = values[:probation, None]
        key = (make_model, values.tobytes(), window)
        if key not in _TRAINED:
            windows = sliding(values[:probation], window)
            _TRAINED[key] = make_model(epochs).fit(windows[:, None, :] if sequences else windows)
        stream = aekit.StreamDetector(_TRAINED[key], healthy, score=score, **stream_options)
        initial = stream.detector_.validation_scores_
        stream.update_many(healthy[-(window - 1):])  # fill the first window with the probation's end
        with stream:
            out = stream.update_many(values[probation:, None])
        return initial, out["score"], special.ndtri(out["unusual"]), out["alarm"]
    return run


def windows_detector(score_windows):
    """A detector from ``score_windows(healthy_windows, windows) -> (healthy scores, scores)``."""
    def run(values, probation, window, epochs):
        later = sliding(values[probation - window + 1:], window)
        healthy, scores = score_windows(sliding(values[:probation], window), later)
        return healthy, scores, RunningScores(healthy).update_many(scores), None
    return run


def isolation_forest(healthy, later):
    forest = IsolationForest(random_state=0).fit(healthy)
    return -forest.score_samples(healthy), -forest.score_samples(later)


def detectors() -> dict:
    """name -> fn(values, probation, window, epochs) -> (healthy scores, scores of the later rows)."""
    def vae(network):
        return lambda epochs: aekit.VAE(network=network, epochs=epochs, verbose=0, random_state=0)

    ae_mlp = lambda epochs: aekit.AutoEncoder(network="mlp", epochs=epochs, verbose=0, random_state=0)
    temporal, mlp = vae("temporal"), vae("mlp")  # one model per network, scored several ways
    watched = vae("temporal")  # as `aekit train --window` trains it: flat windows, the temporal network
    return {
        "aekit watch (StreamDetector's defaults)": aekit_stream(watched, False),
        "aekit watch, model's view only, episodes end below the level (before)":
            aekit_stream(watched, False, **MODEL_VIEW_ONLY),
        "aekit watch, whole windows scored (before)": aekit_stream(watched, False, newest_rows=None),
        "aekit watch, model's view only": aekit_stream(watched, False, context=None),
        "aekit watch, episodes end below the level": aekit_stream(watched, False, episode_end=0.9999),
        "aekit watch, refit every 1,000 rows": aekit_stream(watched, False, refit_every=1000),
        "aekit VAE temporal, -log p(x)": aekit_stream(temporal, True, "log_likelihood", **MODEL_VIEW_ONLY),
        "aekit VAE temporal, reconstruction":
            aekit_stream(temporal, True, "reconstruction", **MODEL_VIEW_ONLY),
        "aekit VAE temporal, reconstruction, refit every 1,000 rows":
            aekit_stream(temporal, True, "reconstruction", refit_every=1000, **MODEL_VIEW_ONLY),
        "aekit VAE mlp, -log p(x)": aekit_stream(mlp, False, "log_likelihood", **MODEL_VIEW_ONLY),
        "aekit VAE mlp, reconstruction": aekit_stream(mlp, False, "reconstruction", **MODEL_VIEW_ONLY),
        "aekit AutoEncoder mlp, reconstruction": aekit_stream(ae_mlp, False, "reconstruction",
                                                               **MODEL_VIEW_ONLY),
        "rolling z-score": windows_detector(lambda healthy, later: (rolling_z(healthy), rolling_z(later))),
        "IsolationForest": windows_detector(isolation_forest),
    }


def load_series(nab: Path, name: str, labels: list) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The series' values and its labelled windows as (first row, last row)."""
    frame = pd.read_csv(nab / "data" / name)
    stamps = pd.to_datetime(frame["timestamp"]).to_numpy()
    rows = [(int(np.searchsorted(stamps, np.datetime64(pd.Timestamp(start)), "left")),
             int(np.searchsorted(stamps, np.datetime64(pd.Timestamp(stop)), "right")) - 1)
            for start, stop in labels]
    return frame["value"].to_numpy(np.float32), rows


def alarm_counts(alarm: np.ndarray, window_of: np.ndarray) -> tuple[int, int]:
    """(labelled windows with an alarm, alarms outside every window)."""
    return len(np.unique(window_of[alarm & (window_of >= 0)])), int(np.sum(alarm & (window_of < 0)))


def throughput(values: np.ndarray, probation: int, window: int, make_stream) -> dict:
    stream = make_stream(values, probation, window)
    rest = values[probation:, None]
    start = time.perf_counter()
    for block in range(0, len(rest), 1000):
        stream.update_many(rest[block:block + 1000])
    batched = len(rest) / (time.perf_counter() - start)
    start, n_single = time.perf_counter(), min(500, len(rest))
    for row in rest[:n_single]:
        stream.update(row)
    single = n_single / (time.perf_counter() - start)
    return {"rows/s, blocks of 1,000": round(batched), "rows/s, one at a time": round(single)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK_SERIES)} series, 5 epochs")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--detector", action="append", help="run only this one (repeatable; default: all)")
    args = parser.parse_args()
    nab = shared_data("nab")
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    names = QUICK_SERIES if args.quick else sorted(labels)
    methods = detectors()
    if args.detector:
        methods = {name: methods[name] for name in args.detector}
    epochs = 5 if args.quick else "auto"
    rng = np.random.default_rng(0)

    prepared, seconds, per_series = [], dict.fromkeys(methods, 0.0), []
    z, raw, alarms = ({m: [] for m in methods} for _ in range(3))
    random_scores = []
    for name in names:
        values, windows = load_series(nab, name, labels[name])
        probation = probation_rows(len(values))
        scored = prepare(len(values), windows)
        prepared.append(scored)
        random_scores.append(rng.uniform(size=len(scored.weights)))
        line = {"series": name, "rows": len(values), "windows": len(windows)}
        for method, detect in methods.items():
            start = time.perf_counter()
            healthy, scores, statistic, alarm = detect(values, probation, args.window, epochs)
            seconds[method] += time.perf_counter() - start
            z[method].append(statistic)
            raw[method].append(scores)
            # The baselines alarm as StreamDetector's model view did: each episode above the default level.
            if alarm is None:
                alarm = detections(statistic, DEFAULT_ALARM_Z, "onsets")
            alarms[method].append(alarm)
            line[method] = alarm_counts(alarms[method][-1], scored.window)
        per_series.append(line)
        print(line, flush=True)

    rows = []
    for method in methods:
        threshold, best = best_threshold(prepared, z[method], alarms="onsets")
        counts = np.sum([line[method] for line in per_series], axis=0)
        rows.append({"detector": method, "NAB score (threshold optimised)": round(best, 1),
                     "optimised z": round(threshold, 2),
                     "NAB score, alarm column":
                         round(corpus_score(prepared, [a.astype(float) for a in alarms[method]], 0.5), 1),
                     "windows detected": int(counts[0]), "false alarms": int(counts[1]),
                     "NAB score, raw score (optimised)":
                         round(best_threshold(prepared, raw[method], alarms="onsets")[1], 1),
                     "seconds": round(seconds[method], 1)})
        print(rows[-1], flush=True)
    rows.append({"detector": "random", "NAB score (threshold optimised)":
                 round(best_threshold(prepared, random_scores, alarms="onsets")[1], 1)})
    print(rows[-1])

    speed = {}
    temperature = "realKnownCause/machine_temperature_system_failure.csv"
    values, _ = load_series(nab, temperature, labels[temperature])
    for label, make_model, sequences, score in [
            ("aekit VAE temporal, reconstruction (StreamDetector's default)",
             lambda: aekit.VAE(network="temporal", epochs=1), True, "auto"),
            ("aekit VAE temporal, -log p(x)", lambda: aekit.VAE(network="temporal", epochs=1), True,
             "log_likelihood"),
            ("aekit VAE mlp, reconstruction", lambda: aekit.VAE(network="mlp", epochs=1), False, "auto"),
            ("aekit AutoEncoder mlp, reconstruction", lambda: aekit.AutoEncoder(network="mlp", epochs=1),
             False, "auto")]:
        def make_stream(values, probation, window, make_model=make_model, sequences=sequences, score=score):
            windows = sliding(values[:probation], window)
            model = make_model().set_params(verbose=0).fit(windows[:, None, :] if sequences else windows)
            return aekit.StreamDetector(model, values[:probation, None], score=score)
        speed[label] = throughput(values, probation_rows(len(values)), args.window, make_stream)
        print(label, speed[label], flush=True)
    write_result("nab", rows, quick=args.quick, window=args.window, per_series=per_series,
                 throughput={"series": temperature, **speed})


if __name__ == "__main__":
    main()
