"""Question: can the default tabular detector train in less time without losing AUROC? (an
exploration for issue #12's time target: no slower than 2x PyOD's AutoEncoder)

ADBench's 24 sets, the protocol of tabular.py, seeds 0..N-1. Each candidate is
``AnomalyDetector(VAE(network="mlp", ...))`` with the shipped scoring (model score plus the
5-NN distance); candidates differ in the hidden widths, early stopping (patience, and the least
improvement of the validation loss that counts: ``aekit.training.loop.MIN_IMPROVEMENT``) and the
minimum number of training steps that ``epochs="auto"`` gives table rows
(``aekit.training.config.AUTO_MIN_STEPS_VECTORS``: 2,000 when this first ran, 1,000 since, from
its result). PyOD's AutoEncoder is timed on the same splits as the reference. Prints per-set
AUROC and seconds; writes results/tabular_budget.json.

    python benchmarks/tabular_budget.py [--seeds 2] [--sets a,b] [--candidate NAME ...] [--result NAME]
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import aekit
import aekit.training.config
import aekit.training.loop
from common import shared_data, write_result
from tabular import split


def narrow(n_features: int) -> tuple[int, int]:
    """64-32 for tables up to 32 features, 256-128 above 64 (power of two of 2x the features)."""
    width = min(256, max(64, 1 << (2 * n_features - 1).bit_length()))
    return width, width // 2


# name -> (hidden widths as a function of the feature count or None, min steps, patience, the
# least relative improvement of the validation loss that counts as one: MIN_IMPROVEMENT)
CANDIDATES = {
    "256-128, 2000 steps": (None, 2000, 10, 1e-6),
    "narrow, 2000 steps": (narrow, 2000, 10, 1e-6),
    "256-128, 1000 steps": (None, 1000, 10, 1e-6),
    "narrow, 1000 steps": (narrow, 1000, 10, 1e-6),
    "256-128, 500 steps": (None, 500, 10, 1e-6),
    "256-128, 1000 steps, patience 5": (None, 1000, 5, 1e-6),
    "256-128, 1000 steps, improving by 0.1%": (None, 1000, 10, 1e-3),
}


def run_candidate(name, train, test, seed):
    widths, min_steps, patience, min_improvement = CANDIDATES[name]
    aekit.training.config.AUTO_MIN_STEPS_VECTORS = min_steps
    aekit.training.loop.MIN_IMPROVEMENT = min_improvement
    hidden = None if widths is None else widths(train.shape[1])
    model = aekit.VAE(network="mlp", hidden_dims=hidden, patience=patience, verbose=0)
    return aekit.AnomalyDetector(model, random_state=seed).fit(train).anomaly_score(test)


def pyod_ae(train, test, seed):
    from pyod.models.auto_encoder import AutoEncoder
    return AutoEncoder(random_state=seed, verbose=0).fit(train).decision_function(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--sets", help="comma-separated set names (default: all)")
    parser.add_argument("--candidate", action="append", choices=CANDIDATES,
                        help="a candidate to run (repeat for several; default: all)")
    parser.add_argument("--result", default="tabular_budget",
                        help="write results/<RESULT>.json (default: %(default)s)")
    args = parser.parse_args()
    adbench = shared_data("adbench")
    names = args.sets.split(",") if args.sets else sorted(p.stem for p in adbench.glob("*.npz"))
    runs = {c: functools.partial(run_candidate, c)
            for c in (args.candidate or CANDIDATES)}
    runs["PyOD AutoEncoder"] = pyod_ae
    auroc = {r: {} for r in runs}
    seconds = {r: {} for r in runs}
    for name in names:
        data = np.load(adbench / f"{name}.npz")
        X, y = data["X"].astype(np.float32), data["y"].astype(int)
        for seed in range(args.seeds):
            tr, te = split(y, seed)
            scaler = StandardScaler().fit(X[tr])
            train, test = scaler.transform(X[tr]), scaler.transform(X[te])
            for r, run in runs.items():
                start = time.perf_counter()
                scores = run(train, test, seed)
                seconds[r][name] = seconds[r].get(name, 0.0) + time.perf_counter() - start
                auroc[r].setdefault(name, []).append(roc_auc_score(y[te], scores))
        print(f"{name:16s}", "  ".join(f"{r}: {np.mean(auroc[r][name]):.4f} {seconds[r][name]:5.1f}s"
                                       for r in runs), flush=True)
    rows = [{"detector": r, "mean_auroc": round(float(np.mean([np.mean(v) for v in auroc[r].values()])), 4),
             "seconds": round(sum(seconds[r].values()), 1),
             "x_pyod_ae": round(sum(seconds[r].values()) / sum(seconds["PyOD AutoEncoder"].values()), 2)}
            for r in runs]
    for row in rows:
        print(row)
    per_dataset = [{"data": d, "detector": r, "auroc": round(float(np.mean(v)), 4),
                    "seconds": round(seconds[r][d], 2)} for r in runs for d, v in auroc[r].items()]
    write_result(args.result, rows, quick=False, per_dataset=per_dataset, seeds=args.seeds,
                 datasets=len(names))


if __name__ == "__main__":
    main()
