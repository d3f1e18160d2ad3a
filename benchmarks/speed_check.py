"""Question: has aekit's training loop become slower than a plain PyTorch loop of the same model?

CI's guard against speed regressions (`.ci/run`, `make speed-check`). A plain loop trains the
same network as `aekit.VAE.fit` on the same rows, in the same process, alternating with it; the
median over rounds of aekit's time per step over the plain loop's is the figure (aekit's includes
its fit's fixed costs: checks, the statistics pass, building the model). Medians of 1.04-1.22
were measured on a 2-core AVX2 CPU, where single rounds vary by +-25%, before plain MLPs trained
without autograd (they now run below 1); a loop made to run each step twice measured 1.92 and
2.12, above the floor of 1.7. A ratio, not a time, so it holds on any CPU.

    python benchmarks/speed_check.py [--quick] [--floor 1.7]

Exit status 1, saying which case, when a median ratio exceeds the floor. Synthetic data only.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from common import write_result
from profile_fit import aekit_fit, plain_fit

# (name, features, rows, hidden dims, batch, epochs, activation): the pytorch/examples VAE's
# shape at the batch size of its example, and a small table, where per-step overhead weighs
# most; both train with their gradients written out (aekit.training.fused). SiLU takes the
# modules' forward pass and autograd, the path of every other model, so that one is guarded too.
CASES = [("784-400-8 VAE, batch 128", 784, 2560, (400,), 128, 2, "relu"),
         ("20-d table, 256-128, batch 128", 20, 2560, (256, 128), 128, 3, "relu"),
         ("20-d table, SiLU (autograd), batch 128", 20, 2560, (256, 128), 128, 3, "silu")]
FLOOR = 1.7


def ratio(case, rounds: int) -> dict:
    name, d, n, hidden, batch, epochs, activation = case
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    _, vae = aekit_fit(X, hidden, batch, 1, activation)  # warm-up; its network serves the plain loop
    ratios = []
    for _ in range(rounds):
        ratios.append(aekit_fit(X, hidden, batch, epochs, activation)[0]
                      / plain_fit(X, vae.model_, batch, epochs))
    return {"case": name, "median_ratio": round(statistics.median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 5")
    parser.add_argument("--floor", type=float, default=FLOOR,
                        help="the largest accepted median ratio (default: %(default)s)")
    args = parser.parse_args()
    rows = [ratio(case, 3 if args.quick else 5) for case in CASES]
    for row in rows:
        print(f"{row['case']:32s} aekit/plain time per step: median {row['median_ratio']:.2f} "
              f"(rounds {row['ratios']})")
    write_result("speed_check", rows, quick=args.quick, floor=args.floor)
    slow = [row for row in rows if row["median_ratio"] > args.floor]
    if slow:
        sys.exit("speed check failed: " + "; ".join(
            f"{row['case']}: aekit took {row['median_ratio']:.2f}x a plain loop's time per step "
            f"(the floor is {args.floor}x)" for row in slow))


if __name__ == "__main__":
    main()
