"""Question: which likelihood should a VAE on grey-level images use by default?

On the embedded 8x8 digits (17 grey levels) with the demo's settings (`aekit train` defaults:
latent 8, 100 epochs, batch 64), compares a plain autoencoder with VAEs under a Bernoulli and a
Gaussian (sigma = 0.1 of the [0, 1] range, the "auto" choice) likelihood. Reports the
reconstruction RMSE in grey levels (0-255) and the KL the VAE spends per image: a small KL
means the code carries little information and reconstructions blur.

    python benchmarks/digits_likelihood.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import aekit
from aekit.data import load
from common import write_result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 epochs instead of 100")
    args = parser.parse_args()
    X = load("digits").X
    settings = {"latent_dim": 8, "epochs": 10 if args.quick else 100, "batch_size": 64,
                "verbose": 0, "random_state": 0}
    cases = [("AutoEncoder", aekit.AutoEncoder(**settings)),
             ("VAE, bernoulli", aekit.VAE(likelihood="bernoulli", **settings)),
             ("VAE, gaussian sigma=0.1 (auto)", aekit.VAE(**settings))]
    rows = []
    for name, est in cases:
        start = time.perf_counter()
        est.fit(X)
        seconds = time.perf_counter() - start
        rmse = float(np.sqrt(np.mean((est.reconstruct(X) - X.astype(np.float64)) ** 2)))
        kl = None
        if est.is_variational:
            with torch.inference_mode():
                kl = round(est.model_(est.scaler_.transform(torch.from_numpy(X))).kl.mean().item(), 2)
        rows.append({"model": name, "likelihood": est.likelihood_,
                     "rmse_grey_levels": round(rmse, 1), "kl_nats_per_image": kl,
                     "epochs_run": est.n_iter_, "seconds": round(seconds, 1)})
        print(rows[-1], flush=True)
    write_result("digits_likelihood", rows, quick=args.quick)


if __name__ == "__main__":
    main()
