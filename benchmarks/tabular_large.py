"""Question: on large tables, how do the detectors compare, and what do the default's steps
beyond a few thousand buy?

ADBench's three large sets (../shared/data/adbench-large: cover 286k rows, donors 619k, http
567k) and, with ``--sets``, any of the classical ones (shuttle is the largest, 49k rows). The
protocol of tabular.py: per set and seed, half the normal rows train, the other half plus all
anomalies are scored; features standardised on the training rows. ``epochs="auto"`` trains a
large table 50 epochs, tens of thousands of steps; each ``--caps`` value also runs the default
detector with its model's epochs set to make about that many steps where 50 would make more
("none": the default as it ships), beside kNN, PyOD's AutoEncoder and IsolationForest on the
same splits.

    python benchmarks/tabular_large.py [--seeds 1] [--first-seed 0] [--sets a,b] [--caps 2000,none]
        [--no-others] [--result NAME]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

import aekit
import aekit.training
from common import shared_data, write_result
from tabular import split

LARGE_SETS = ("10_cover", "11_donors", "16_http")


def steps_per_pass(n_rows: int, model) -> int:
    """The model's training steps per pass over the rows the detector trains it on."""
    trained = n_rows - max(1, int(n_rows * aekit.AnomalyDetector().validation_fraction))
    return -(-(trained - int(trained * model.validation_fraction)) // model.batch_size)


def aekit_default(cap: int | None, steps: dict):
    def run(train, test, seed):
        model = aekit.VAE(network="mlp", verbose=0)  # the detector's default model
        per_pass = steps_per_pass(len(train), model)
        if cap is not None and round(cap / per_pass) < aekit.training.AUTO_EPOCHS:  # a cap, never more
            model.set_params(epochs=max(1, round(cap / per_pass)))
        detector = aekit.AnomalyDetector(model, random_state=seed).fit(train)
        steps["steps"] = detector.model_.n_iter_ * per_pass
        return detector.anomaly_score(test)
    return run


def others():
    def pyod(name):
        def run(train, test, seed):
            from pyod.models.auto_encoder import AutoEncoder
            from pyod.models.knn import KNN
            model = AutoEncoder(random_state=seed, verbose=0) if name == "ae" else KNN(n_neighbors=5)
            return model.fit(train).decision_function(test)
        return run

    def iforest(train, test, seed):
        return -IsolationForest(random_state=seed).fit(train).score_samples(test)

    return {"kNN (k=5)": pyod("knn"), "PyOD AutoEncoder": pyod("ae"), "IsolationForest": iforest}


def load(name: str):
    folder = shared_data("adbench-large" if name in LARGE_SETS else "adbench")
    with np.load(folder / f"{name}.npz", allow_pickle=False) as npz:
        return npz["X"].astype(np.float32), npz["y"].astype(int)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(LARGE_SETS), help="comma-separated set names")
    parser.add_argument("--caps", default="2000,20000,none", help="steps ('none': as shipped)")
    parser.add_argument("--no-others", action="store_true", help="only the default detector's caps")
    parser.add_argument("--result", default="tabular_large", help="results/<name>.json")
    args = parser.parse_args()
    caps = [None if c == "none" else int(c) for c in args.caps.split(",")]
    steps: dict = {}
    label = lambda cap: "AnomalyDetector()" if cap is None else f"AnomalyDetector(), ~{cap} steps"
    detectors = {label(c): aekit_default(c, steps) for c in caps}
    if not args.no_others:
        detectors.update(others())
    rows = []
    for name in args.sets.split(","):
        X, y = load(name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            train, test = split(y, seed)
            scaler = StandardScaler().fit(X[train])
            X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
            for det_name, run in detectors.items():
                steps.clear()
                start = time.perf_counter()
                scores = run(X_train, X_test, seed)
                row = {"data": name, "seed": seed, "detector": det_name,
                       "auroc": round(float(roc_auc_score(y[test], scores)), 4),
                       "average_precision": round(float(average_precision_score(y[test], scores)), 4),
                       "seconds": round(time.perf_counter() - start, 1), **steps}
                rows.append(row)
                print(row, flush=True)
    summary = []
    for det_name in detectors:
        mine = [r for r in rows if r["detector"] == det_name]
        summary.append({"detector": det_name,
                        "mean_auroc": round(float(np.mean([r["auroc"] for r in mine])), 4),
                        "mean_ap": round(float(np.mean([r["average_precision"] for r in mine])), 4),
                        "seconds": round(sum(r["seconds"] for r in mine), 1)})
    for row in summary:
        print(row)
    write_result(args.result, summary, quick=False, per_dataset=rows, seeds=args.seeds)


if __name__ == "__main__":
    main()
