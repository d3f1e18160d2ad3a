"""Question: which objective gives latent values that each mean one thing, and can a user tell
the good models apart without labels?

On the built-in sprites (dSprites' factor grid, ``aekit.data.load("sprites")``, 64 x 64), each
objective trains the same VAE over several seeds: 10 latent dimensions, an MLP of 1,200-1,200
units each way (as Chen et al. 2018 trained on dSprites), a Bernoulli likelihood (the sprites
are binary), batch 256, a fixed number of epochs over the same training sprites. All through
``aekit.VAE``'s parameters:

* VAE (beta = 1); beta-VAE (beta = 4); beta-TCVAE (total correlation weighted 6, the rest 1);
* capacity annealing (Burgess et al. 2018: beta 1000 holding the KL on a target rising to 25
  nats over the first three quarters of training);
* weak supervision: beta-TCVAE told the five factors of 1% of its training sprites
  (``fit(X, attributes=...)``, NaN for the rest), which names its first five dimensions; the
  labelled sprites are drawn as a tenth of each epoch (``attribute_share``'s default), or, in
  the ablation, once an epoch like the others.

Each model's mean codes of 10,000 other sprites are scored by MIG, DCI and SAP against the five
factors (their grid positions), beside its reconstruction error, its training time and its
UDR (Duan et al. 2020: the consistency of its codes with the other seeds' of the same objective,
no labels used); "UDR pick" is the MIG of the seed that UDR ranks first.

    python benchmarks/disentanglement.py [--quick] [--seeds 3] [--epochs 8] [--count 100000]
                                         [--only NAME] [--result disentanglement]
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np
import pandas as pd

import aekit
from aekit.data import load
from aekit.tasks import disentanglement as D
from common import write_result

FACTORS = ("shape", "scale", "orientation", "x", "y")
N_SCORED = 10_000
LABELLED = 0.01  # the share of training sprites whose factors the weakly supervised model is told


def objectives(epochs: int) -> dict:
    return {
        "VAE": {"beta": 1.0},
        "beta-VAE (beta 4)": {"beta": 4.0},
        "beta-TCVAE (TC weight 6)": {"tc_weight": 6.0},
        "capacity annealing (C 25, beta 1000)": {"beta": 1000.0, "capacity": 25.0,
                                                 "capacity_epochs": max(1, 3 * epochs // 4)},
        "beta-TCVAE + factors of 1% (weak supervision)": {"tc_weight": 6.0, "attributes": LABELLED},
        "beta-TCVAE + factors of 1%, each drawn once an epoch": {"tc_weight": 6.0, "attributes": LABELLED,
                                                                   "attribute_share": 0.0},
    }


def known_factors(data, share: float, seed: int) -> pd.DataFrame:
    """The training sprites' factors, NaN but for a random ``share`` of them."""
    table = pd.DataFrame({name: data.factors[name].astype(np.float64) for name in FACTORS})
    hidden = np.random.default_rng(seed).random(len(table)) >= share
    table.loc[hidden, :] = np.nan
    return table


def _result_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits and underscores only")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sprites, one epoch, two seeds")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--only", help="run only the objectives whose name contains this")
    parser.add_argument("--result", default="disentanglement", type=_result_name, help="results/<this>.json")
    args = parser.parse_args()
    size, count, seeds, epochs = (32, 3000, 2, 1) if args.quick else (64, args.count, args.seeds, args.epochs)
    data = load("sprites", count=count, size=size, random_state=0)
    scored = load("sprites", count=min(N_SCORED, count), size=size, random_state=1)
    factors = np.column_stack([scored.factors[f"{name}_index"] for name in FACTORS])
    per_model, codes_of = [], {}
    for name, objective in objectives(epochs).items():
        if args.only and args.only not in name:
            continue
        objective = dict(objective)
        labelled = objective.pop("attributes", None)
        for seed in range(seeds):
            model = aekit.VAE(latent_dim=10, network="mlp", hidden_dims=(1200, 1200), likelihood="bernoulli",
                              epochs=epochs, batch_size=256, validation_fraction=0.02, verbose=0,
                              random_state=seed, **objective)
            fit = {} if labelled is None else {"attributes": known_factors(data, labelled, seed)}
            start = time.perf_counter()
            model.fit(data.X, **fit)
            seconds = time.perf_counter() - start
            codes, kl = model.transform(scored.X), model.kl_per_dimension(scored.X)
            codes_of.setdefault(name, []).append((codes, kl))
            dci = D.dci(codes, factors)
            line = {"objective": name, "seed": seed, "MIG": round(D.mig(codes, factors), 4),
                    "DCI disentanglement": round(dci["disentanglement"], 4),
                    "DCI completeness": round(dci["completeness"], 4),
                    "DCI informativeness": round(dci["informativeness"], 4),
                    "SAP": round(D.sap(codes, factors), 4),
                    "active dimensions": int(D.active_dimensions(kl).sum()),
                    "reconstruction error": round(float(model.reconstruction_error(scored.X).mean()), 2),
                    "train seconds": round(seconds, 1)}
            per_model.append(line)
            print(json.dumps(line), flush=True)
    rows = [_summary(name, [line for line in per_model if line["objective"] == name], codes_of[name])
            for name in codes_of]
    for row in rows:
        print(row)
    write_result(args.result, rows, quick=args.quick, size=size, count=count, epochs=epochs,
                 per_model=per_model)


def _summary(name: str, lines: list[dict], codes: list) -> dict:
    """Medians over seeds, and the seed UDR would pick beside the best one."""
    row = {"objective": name, "seeds": len(lines)}
    for metric in ("MIG", "DCI disentanglement", "SAP", "reconstruction error", "train seconds"):
        row[f"median {metric}"] = round(float(np.median([line[metric] for line in lines])), 4)
    if len(lines) > 1:
        udr = D.udr([c for c, _ in codes], [k for _, k in codes])
        for line, score in zip(lines, udr, strict=True):
            line["UDR"] = round(float(score), 4)
        row["best seed MIG"] = max(line["MIG"] for line in lines)
        row["UDR pick MIG"] = lines[int(np.argmax(udr))]["MIG"]
    return row


if __name__ == "__main__":
    main()
