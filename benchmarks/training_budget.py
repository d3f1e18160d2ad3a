"""Question: how many optimisation steps does a small data set need, and does the default beat PCA?

One-class Fashion-MNIST (as benchmarks/oneclass.py) with few training images per class: the
default ``aekit.AnomalyDetector()`` trained under several minimum step budgets
(``aekit.training.config.AUTO_MIN_STEPS``, what ``epochs="auto"`` stretches small data sets to; 0 is the
old behaviour, 50 epochs whatever the size), against PCA's reconstruction error with as many
components as the detector's latent dimension (8) and with 90% of the variance. Reported: mean
AUROC over the chosen classes and the seconds for all of them.

    python benchmarks/training_budget.py [--quick] [--per-class 500] [--budgets 0,1000,2000,4000] \
        [--classes 0,5,8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA

import aekit
from aekit.detectors import detection_metrics
from aekit.training import config as train
from common import load_fashion_mnist, write_result
from oneclass import CLASSES


def pca_error(n_components, X_train, X_test):
    flat = lambda X: X.reshape(len(X), -1).astype(np.float32) / 255
    pca = PCA(n_components, random_state=0).fit(flat(X_train))
    test = flat(X_test)
    return ((pca.inverse_transform(pca.transform(test)) - test) ** 2).sum(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one class, 200 images, budgets 0 and 300")
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--budgets", default="0,1000,2000,4000")
    parser.add_argument("--classes", default="0,5,8")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    classes = [int(c) for c in args.classes.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    per_class = args.per_class
    if args.quick:
        classes, budgets, per_class = classes[:1], [0, 300], 200
        X_test, y_test = X_test[:2000], y_test[:2000]
    rng = np.random.default_rng(0)
    train_sets = {c: X_train[rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)]
                  for c in classes}
    rows = []
    for name, scorer in [("PCA error, 8 components", lambda X: pca_error(8, X, X_test)),
                         ("PCA error, 90% variance", lambda X: pca_error(0.9, X, X_test))]:
        start = time.perf_counter()
        aurocs = {CLASSES[c]: 100 * detection_metrics(scorer(train_sets[c]), y_test != c)["auroc"]
                  for c in classes}
        rows.append(_row(name, None, aurocs, time.perf_counter() - start))
    for budget in budgets:
        train.AUTO_MIN_STEPS = budget
        start = time.perf_counter()
        aurocs, epochs = {}, []
        for c in classes:
            detector = aekit.AnomalyDetector(random_state=0).fit(train_sets[c])
            aurocs[CLASSES[c]] = 100 * detection_metrics(detector.anomaly_score(X_test), y_test != c)["auroc"]
            epochs.append(detector.model_.n_iter_)
        rows.append(_row("AnomalyDetector()", budget, aurocs, time.perf_counter() - start,
                         epochs_run=epochs))
    every = "_all_classes" if len(classes) == 10 else ""
    write_result(f"training_budget_{per_class}{every}", rows, quick=args.quick, per_class=per_class,
                 classes=classes)


def _row(name, budget, aurocs, seconds, **extra):
    mean = round(float(np.mean(list(aurocs.values()))), 2)
    row = {"detector": name, "min_steps": budget, "mean_auroc": mean,
           "seconds_all_classes": round(seconds, 1), **{k: round(v, 2) for k, v in aurocs.items()}, **extra}
    print(row, flush=True)
    return row


if __name__ == "__main__":
    main()
