"""Question: which fixed sigma should a VAE's Gaussian likelihood use on standardised tables?

Planted anomalies (the data of tests/test_detect.py): normal rows near a 3-D subspace of 12-D,
anomalies off it. A VAE (latent 3) trained on normal rows only, scored by -log p(x) and by the
negative ELBO, for sigma = 1, 0.3 and 0.1 (in standard deviations of the features).

    python benchmarks/vae_sigma.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import aekit
from aekit.detectors import detection_metrics
from common import write_result


def planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    normal = (rng.normal(size=(900, 3)) * [3, 2, 1]) @ basis[:, :3].T + 0.05 * rng.normal(size=(900, 12))
    off = rng.normal(size=(60, 12)) @ basis[:, 3:6] @ basis[:, 3:6].T
    odd = (rng.normal(size=(60, 3)) * [3, 2, 1]) @ basis[:, :3].T + off
    return normal[:600], np.vstack([normal[600:], odd]), np.r_[np.zeros(300), np.ones(60)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 epochs instead of 60")
    args = parser.parse_args()
    train, X_test, truth = planted()
    rows = []
    for sigma in (1.0, 0.3, 0.1):
        for score in ("log_likelihood", "elbo"):
            vae = aekit.VAE(latent_dim=3, sigma=sigma, epochs=15 if args.quick else 60, batch_size=32,
                            learning_rate=3e-3, verbose=0, random_state=0)
            detector = aekit.AnomalyDetector(vae, score=score, random_state=0).fit(train)
            metrics = detection_metrics(detector.anomaly_score(X_test), truth)
            rows.append({"sigma": sigma, "score": score, "auroc": round(metrics["auroc"], 3),
                         "average_precision": round(metrics["average_precision"], 3)})
            print(rows[-1], flush=True)
    write_result("vae_sigma", rows, quick=args.quick)


if __name__ == "__main__":
    main()
