"""Question: how well does aekit's AnomalyDetector find novel classes of images?

One-class Fashion-MNIST (protocol in ../shared/data/README.md): for each of the ten classes,
train on that class's 6,000 training images only, then score the whole 10,000-image test set
with the other nine classes as anomalies. Reported: AUROC per class, the mean, and the
seconds for all ten classes (training and scoring). Each variant is a detector configuration;
"default" is ``aekit.AnomalyDetector()`` exactly as a user gets it.

    python benchmarks/oneclass.py [--quick] [--variants default,ae-mlp,...] [--keep-others]

--keep-others keeps the rows of variants not run now from the previous results file, each
with the date of its run (for a variant too slow to repeat with every change).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

import numpy as np

import aekit
from aekit.detectors import detection_metrics
from common import RESULTS, load_fashion_mnist, write_result

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")

DEFAULT_VARIANTS = "default,ae-mlp-reconstruction,vae-mlp-log_likelihood,ae-mlp-relative,vae-conv-relative"


def variants(epochs: int | None) -> dict:
    """Detector factories by name (model-score); ``epochs`` overrides the models' default."""
    e = {} if epochs is None else {"epochs": epochs}
    ae = lambda network: aekit.AutoEncoder(network=network, verbose=0, **e)
    vae = lambda network: aekit.VAE(network=network, verbose=0, **e)
    detector = lambda model, **p: lambda seed: aekit.AnomalyDetector(model, random_state=seed, **p)
    return {
        "default": lambda seed: aekit.AnomalyDetector(
            None if epochs is None else aekit.VAE(network="mlp", verbose=0, **e), random_state=seed),
        "ae-mlp-reconstruction": detector(ae("mlp"), score="reconstruction"),
        "ae-mlp-relative": detector(ae("mlp"), score="relative"),
        "ae-mlp-reconstruction+code": detector(ae("mlp"), score="reconstruction", code_density=True),
        "vae-mlp-log_likelihood": detector(vae("mlp"), score="log_likelihood"),
        "vae-mlp-relative+code": detector(vae("mlp"), score="relative", code_density=True),
        "vae-conv-relative": detector(vae("conv"), score="relative"),
    }


def run_variant(name, factory, X_train, y_train, X_test, y_test, classes):
    per_class, start = {}, time.perf_counter()
    for c in classes:
        detector = factory(0).fit(X_train[y_train == c])
        metrics = detection_metrics(detector.anomaly_score(X_test), y_test != c)
        per_class[CLASSES[c]] = round(100 * metrics["auroc"], 2)
        print(f"  {name} {CLASSES[c]}: AUROC {per_class[CLASSES[c]]}", flush=True)
    seconds = time.perf_counter() - start
    return {"detector": name, "mean_auroc": round(float(np.mean(list(per_class.values()))), 2),
            "seconds_all_classes": round(seconds, 1), **per_class}


def kept_rows(quick: bool, rerun: set) -> list:
    """The previous results' rows for variants not in ``rerun``, with their run's date."""
    path = RESULTS / f"oneclass{'.quick' if quick else ''}.json"
    if not path.exists():
        return []
    previous = json.loads(path.read_text())
    return [{**row, "run": row.get("run", previous["date"])}
            for row in previous["rows"] if row["detector"] not in rerun]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="two classes, 1,000 training images each, 2 epochs, 2,000 test images")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="comma-separated names: " + ", ".join(variants(None)))
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the previous results' rows of the variants not run now")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    classes = range(10)
    epochs = None
    if args.quick:
        keep = np.concatenate([np.flatnonzero(y_train == c)[:1000] for c in (0, 1)])
        X_train, y_train = X_train[keep], y_train[keep]
        X_test, y_test = X_test[:2000], y_test[:2000]
        classes, epochs = (0, 1), 2
    factories = variants(epochs)
    unknown = set(args.variants.split(",")) - set(factories)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {list(factories)}")
    rows, today = [], datetime.date.today().isoformat()
    for name in args.variants.split(","):
        rows.append({**run_variant(name, factories[name], X_train, y_train, X_test, y_test, classes),
                     "run": today})
        print(rows[-1], flush=True)
    if args.keep_others:
        rows += kept_rows(args.quick, {row["detector"] for row in rows})
    write_result("oneclass", rows, quick=args.quick, n_test=len(X_test),
                 published={"GEOM": 93.5, "RAW-OC-SVM": 92.8, "CAE-OC-SVM": 91.7, "ADGAN": 88.4,
                            "DSEBM": 86.6})


if __name__ == "__main__":
    main()
