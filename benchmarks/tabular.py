"""Question: how well does aekit detect anomalies in tables, against the usual detectors?

ADBench's classical sets (../shared/data/adbench), semi-supervised protocol of
../shared/data/README.md: per data set and seed, a random half of the normal rows trains every
detector; the other half plus all anomalies is the test set. ROC-AUC and average precision,
mean over seeds 0-4. All detectors see the same splits in the same run; all get standardised
features (fitted on the training rows).

    python benchmarks/tabular.py [--quick] [--seeds N] [--sets a,b,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import aekit
from common import shared_data, write_result

QUICK_SETS = ("38_thyroid", "6_cardio", "42_WBC")
ABLATIONS = ("aekit, model score only",)  # shown beside the detectors, not competing for wins


def split(y: np.ndarray, seed: int):
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    train = normal[: len(normal) // 2]
    test = np.concatenate([normal[len(normal) // 2:], np.flatnonzero(y == 1)])
    return train, test


def detectors(seed: int, quick: bool):
    """name -> function(train, test) returning anomaly scores of the test rows (higher = odder).
    The ablation in ABLATIONS re-scores the model the entry before it fitted."""
    def sklearn_score(model):
        return lambda train, test: -model.fit(train).score_samples(test)

    fitted = {}  # the default detector's last fit, which the ablation re-scores

    def aekit_default(train, test):
        model = aekit.VAE(network="mlp", verbose=0, epochs=10) if quick else None
        fitted["detector"] = aekit.AnomalyDetector(model, random_state=seed).fit(train)
        return fitted["detector"].anomaly_score(test)

    def model_score_only(train, test):
        # The same model without the neighbour distance, outside the default's timing (ranks
        # do not depend on the calibration data, so the training rows serve).
        model_only = aekit.AnomalyDetector.from_fitted(fitted["detector"].model_, train, n_neighbors=None)
        return model_only.anomaly_score(test)

    def pyod_score(name):
        def run(train, test):
            from pyod.models.auto_encoder import AutoEncoder
            from pyod.models.knn import KNN
            from pyod.models.vae import VAE

            model = {"ae": lambda: AutoEncoder(random_state=seed, verbose=0),
                     "vae": lambda: VAE(random_state=seed, verbose=0),
                     "knn": lambda: KNN(n_neighbors=5)}[name]()
            return model.fit(train).decision_function(test)
        return run

    return {"aekit AnomalyDetector()": aekit_default, "aekit, model score only": model_score_only,
            "kNN (k=5)": pyod_score("knn"),
            "IsolationForest": sklearn_score(IsolationForest(random_state=seed)),
            "OneClassSVM": sklearn_score(OneClassSVM(gamma="scale")),
            "LOF (novelty)": sklearn_score(LocalOutlierFactor(novelty=True)),
            "PyOD AutoEncoder": pyod_score("ae"), "PyOD VAE": pyod_score("vae")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 small sets, 1 seed, short training")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sets", help="comma-separated set names (default: all)")
    args = parser.parse_args()
    adbench = shared_data("adbench")
    names = args.sets.split(",") if args.sets else (QUICK_SETS if args.quick else
                                                    sorted(p.stem for p in adbench.glob("*.npz")))
    seeds = range(1 if args.quick else args.seeds)
    rows, seconds = [], {}
    for name in names:
        with np.load(adbench / f"{name}.npz", allow_pickle=False) as npz:
            X, y = npz["X"].astype(np.float32), npz["y"].astype(int)
        per = {}
        for seed in seeds:
            train, test = split(y, seed)
            scaler = StandardScaler().fit(X[train])
            X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
            for det_name, run in detectors(seed, args.quick).items():
                start = time.perf_counter()
                scores = run(X_train, X_test)
                seconds[det_name] = seconds.get(det_name, 0) + time.perf_counter() - start
                per.setdefault(det_name, []).append((roc_auc_score(y[test], scores),
                                                     average_precision_score(y[test], scores)))
        for det_name, values in per.items():
            auroc, ap = np.mean(values, axis=0)
            rows.append({"data": name, "detector": det_name, "auroc": round(float(auroc), 4),
                         "average_precision": round(float(ap), 4)})
        best = max((d for d in per if d not in ABLATIONS), key=lambda d: np.mean([v[0] for v in per[d]]))
        print(f"{name:22s} best {best:18s} " + "  ".join(
            f"{d.split()[-1][:8]} {np.mean([v[0] for v in per[d]]):.3f}" for d in per), flush=True)
    summary = []
    for det_name in per:
        mine = [r for r in rows if r["detector"] == det_name]
        wins = None if det_name in ABLATIONS else sum(1 for name in names if max(
            (r for r in rows if r["data"] == name and r["detector"] not in ABLATIONS),
            key=lambda r: r["auroc"])["detector"] == det_name)
        mean = lambda key: round(float(np.mean([r[key] for r in mine])), 4)  # noqa: B023
        summary.append({"detector": det_name, "mean_auroc": mean("auroc"),
                        "mean_ap": mean("average_precision"), "wins": wins,
                        "seconds": None if det_name in ABLATIONS else round(seconds[det_name], 1)})
    summary.sort(key=lambda r: -r["mean_auroc"])
    for row in summary:
        print(row)
    write_result("tabular", summary, quick=args.quick, per_dataset=rows, seeds=len(seeds),
                 datasets=len(names))


if __name__ == "__main__":
    main()
