"""Question: does a threshold flag new normal inputs at the false-alarm rate that was asked for?

For tables (the 24 ADBench sets of ../shared/data), images (one Fashion-MNIST class) and windows
(NAB's probationary periods in ../shared/data), a model trains on normal inputs and is then
shown normal inputs it has never seen; the share of them flagged is the realised false-alarm
rate. Three ways to set the threshold, each at the rates 1% and 5%:

* `from_fitted(model, X_train)`: what `aekit detect --normal-data TRAINING.csv` does: the rows
  the model's fit held out (its validation rows) set the threshold;
* the rule before (all of the training rows set it: the scores of rows the model trained on);
* `AnomalyDetector().fit(X_train)`: 20% of the normal rows held out before training.

Tables: per set and seed, half of the normal rows train (as tabular.py splits them), the other
half are the new normal inputs. Images: 1,000 training images of class 0 train, the other 5,000
of that class (also from Fashion-MNIST's training file) are new. Windows: in each NAB series'
probationary period (anomaly-free), windows of 32 from its first 70% train, those of its last
30% (after a gap of one window) are new: about 120 overlapping windows a series, a few
independent ones' worth, too few to resolve a rate of 1% per series. Series: windows of 32 of
each NAB series' probationary period train `aekit train --window 32`'s model (the temporal VAE),
and every later window that holds no row of a labelled anomaly window is new (thousands a
series): a healthy period, then the record scanned in one batch (`aekit detect --window`).

    python benchmarks/false_alarms.py [--quick] [--seeds N] [--kinds table,image,window,series]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

import aekit
from common import load_fashion_mnist, shared_data, write_result

RATES = (0.01, 0.05)
WINDOW = 32


def realised(model, X_train, X_new, seed: int, refit: bool = True) -> dict:
    """The share of ``X_new`` flagged, per way of setting the threshold and rate (``refit``:
    also by ``AnomalyDetector().fit``, which trains a model per rate)."""
    out = {}
    for rate in RATES:
        held_out = aekit.AnomalyDetector.from_fitted(model, X_train, contamination=rate)
        every = aekit.AnomalyDetector.from_fitted(model, X_train, contamination=rate,
                                                  calibration_rows=np.arange(len(X_train)))
        out[f"from_fitted, rate {rate}"] = float((held_out.predict(X_new) == -1).mean())
        out[f"before (training rows), rate {rate}"] = float((every.predict(X_new) == -1).mean())
    for rate in RATES if refit else ():
        fitted = aekit.AnomalyDetector(clone_model(model), contamination=rate, random_state=seed).fit(X_train)
        out[f"AnomalyDetector.fit, rate {rate}"] = float((fitted.predict(X_new) == -1).mean())
    return out


def clone_model(model):
    from sklearn.base import clone
    return clone(model)


def vae(seed: int, quick: bool):
    """The model `aekit train --model vae` builds for tables, images and windows."""
    return aekit.VAE(network="mlp", verbose=0, random_state=seed, **({"epochs": 10} if quick else {}))


def tables(seeds: int, quick: bool):
    folder = shared_data("adbench")
    files = sorted(folder.glob("*.npz"))[:3 if quick else None]
    for path in files:
        data = np.load(path)
        X, y = data["X"].astype(np.float32), data["y"]
        for seed in range(seeds):
            normal = np.random.default_rng(seed).permutation(np.flatnonzero(y == 0))
            train, new = X[normal[: len(normal) // 2]], X[normal[len(normal) // 2:]]
            yield "table", path.stem, seed, realised(vae(seed, quick).fit(train), train, new, seed)


def images(seeds: int, quick: bool):
    X, y = load_fashion_mnist()[:2]
    shirts = X[y == 0].reshape(-1, 784)
    n_train = 300 if quick else 1000
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(shirts))
        train, new = shirts[order[:n_train]], shirts[order[n_train:n_train + (1000 if quick else 5000)]]
        yield "image", "fashion-mnist class 0", seed, realised(vae(seed, quick).fit(train), train, new, seed)


def windows(seeds: int, quick: bool):
    folder = shared_data("nab")
    files = sorted((folder / "data").rglob("*.csv"))[:2 if quick else None]
    for path in files:
        values = pd.read_csv(path)["value"].to_numpy(np.float32)
        healthy = values[: int(0.15 * len(values))]
        cut = int(0.7 * len(healthy))
        if cut < WINDOW + 50 or len(healthy) - cut - WINDOW < WINDOW + 20:
            continue  # too short a healthy period for both parts
        train = np.lib.stride_tricks.sliding_window_view(healthy[:cut], WINDOW)
        new = np.lib.stride_tricks.sliding_window_view(healthy[cut + WINDOW:], WINDOW)
        train, new = np.ascontiguousarray(train), np.ascontiguousarray(new)
        for seed in range(seeds):
            name = str(path.relative_to(folder / "data"))
            yield "window", name, seed, realised(vae(seed, quick).fit(train), train, new, seed)


def series(seeds: int, quick: bool):
    from nab import load_series, sliding
    from nab_score import probation_rows

    folder = shared_data("nab")
    labels = json.loads((folder / "labels" / "combined_windows.json").read_text())
    for name in sorted(labels)[:2 if quick else None]:
        values, windows = load_series(folder, name, labels[name])
        probation = probation_rows(len(values))
        train = np.ascontiguousarray(sliding(values[:probation], WINDOW), dtype=np.float32)
        anomalous = np.zeros(len(values), dtype=bool)
        for first, last in windows:
            anomalous[first:last + 1] = True
        later = np.arange(len(values) - WINDOW + 1) >= probation  # no row trained on
        clean = ~sliding(anomalous, WINDOW).any(axis=1)
        new = np.ascontiguousarray(sliding(values, WINDOW)[later & clean], dtype=np.float32)
        for seed in range(seeds):
            model = aekit.VAE(network="temporal", verbose=0, random_state=seed,
                              **({"epochs": 5} if quick else {}))
            # One training a series (the temporal VAE's 2,000 steps): the CLI's thresholds only.
            yield "series", name, seed, realised(model.fit(train), train, new, seed, refit=False)


SOURCES = {"table": tables, "image": images, "window": windows, "series": series}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few sets, short fits")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--kinds", default=",".join(SOURCES),
                        help="comma-separated, of " + ", ".join(SOURCES) + " (default: all)")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if not set(kinds) <= set(SOURCES):
        parser.error(f"--kinds: unknown {sorted(set(kinds) - set(SOURCES))}; known: {', '.join(SOURCES)}")
    seeds = 1 if args.quick else args.seeds
    per_case = []
    for source in (SOURCES[kind] for kind in kinds):
        for kind, name, seed, rates in source(seeds, args.quick):
            per_case.append({"kind": kind, "data": name, "seed": seed, **rates})
            print(json.dumps(per_case[-1]), flush=True)
    frame = pd.DataFrame(per_case)
    rows = []
    for kind, group in frame.groupby("kind", sort=False):
        for column in [c for c in frame.columns if "rate" in c]:
            rate = float(column.rsplit(" ", 1)[1])
            shares = group[column].dropna().to_numpy()
            if not len(shares):  # a threshold this kind is not measured with
                continue
            rows.append({"kind": kind, "threshold": column.rsplit(",", 1)[0], "asked": rate,
                         "mean_realised": round(float(shares.mean()), 4),
                         "median_realised": round(float(np.median(shares)), 4),
                         "cases_above_2x": f"{int((shares > 2 * rate).sum())}/{len(shares)}"})
            print(rows[-1])
    write_result("false_alarms", rows, quick=args.quick, seeds=seeds, per_case=per_case)


if __name__ == "__main__":
    main()
