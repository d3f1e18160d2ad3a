"""Question: which objective gives latent values that each mean one thing, and how sure are we?

On the built-in sprites (dSprites' factor grid, ``aekit.data.load("sprites")``), each objective
trains a convolutional VAE with 10 latent dimensions, over several seeds: the plain VAE
(beta = 1), beta-VAE (beta = 4) and beta-TCVAE (total correlation weighted 6, the rest 1), all
through ``aekit.VAE``'s parameters. Each model's mean codes of 10,000 sprites are scored by MIG,
DCI and SAP against the five factors (their grid positions), beside its reconstruction error
and its training time.

    python benchmarks/disentanglement.py [--quick] [--seeds N] [--size 64] [--count 50000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import aekit
from aekit.data import load
from aekit.tasks import disentanglement as D
from common import write_result

FACTORS = ("shape", "scale", "orientation", "x", "y")
OBJECTIVES = {"VAE": {"beta": 1.0}, "beta-VAE (beta 4)": {"beta": 4.0},
              "beta-TCVAE (TC weight 6)": {"tc_weight": 6.0}}
N_SCORED = 10_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sprites, a few epochs, one seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--epochs", default="auto")
    args = parser.parse_args()
    size, count, seeds = (32, 5000, 1) if args.quick else (args.size, args.count, args.seeds)
    epochs = 3 if args.quick else (args.epochs if args.epochs == "auto" else int(args.epochs))
    data = load("sprites", count=count, size=size, random_state=0)
    scored = load("sprites", count=min(N_SCORED, count), size=size, random_state=1)
    factors = np.column_stack([scored.factors[f"{name}_index"] for name in FACTORS])
    per_model = []
    for name, objective in OBJECTIVES.items():
        for seed in range(seeds):
            model = aekit.VAE(latent_dim=10, network="conv", epochs=epochs, batch_size=128, verbose=0,
                              random_state=seed, **objective)
            start = time.perf_counter()
            model.fit(data.X)
            seconds = time.perf_counter() - start
            codes = model.transform(scored.X)
            dci = D.dci(codes, factors)
            line = {"objective": name, "seed": seed, "MIG": round(D.mig(codes, factors), 4),
                    "DCI disentanglement": round(dci["disentanglement"], 4),
                    "DCI completeness": round(dci["completeness"], 4),
                    "DCI informativeness": round(dci["informativeness"], 4),
                    "SAP": round(D.sap(codes, factors), 4),
                    "reconstruction error": round(float(model.reconstruction_error(scored.X).mean()), 2),
                    "train seconds": round(seconds, 1)}
            per_model.append(line)
            print(json.dumps(line), flush=True)
    rows = []
    for name in OBJECTIVES:
        lines = [line for line in per_model if line["objective"] == name]
        row = {"objective": name, "seeds": len(lines)}
        for metric in ("MIG", "DCI disentanglement", "SAP", "reconstruction error", "train seconds"):
            row[f"median {metric}"] = round(float(np.median([line[metric] for line in lines])), 4)
        rows.append(row)
        print(row)
    write_result("disentanglement", rows, quick=args.quick, size=size, count=count, epochs=epochs,
                 per_model=per_model)


if __name__ == "__main__":
    main()
