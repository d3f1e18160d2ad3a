"""Question: what does an aekit fit cost beyond the arithmetic a plain PyTorch loop does?

Two views, both of one process:

* **per step**: the same VAE (aekit's own networks, so the arithmetic is identical) trained by
  `aekit.VAE.fit` and by a plain loop (index_select batches, the same loss terms, fused Adam);
  `torch.profiler` counts the operators each launches per step and their self time, and the
  table lists the operators where aekit spends more. Alternating timed runs give the wall-clock
  ratio (medians: single runs on a shared 2-core machine vary by +-25%).
* **fixed costs**: the phases of one fit outside the steps (checks of the input, the statistics
  pass, building the model and optimiser), timed with cProfile on a fit of 60,000 rows.

    python benchmarks/profile_fit.py [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

import aekit
from common import write_result

# (name, features, rows, hidden dims, batch): a small table, and the pytorch/examples VAE's shape
CASES = [("20-d table, 256-128, batch 128", 20, 1280, (256, 128), 128),
         ("784-d, 400, batch 512", 784, 6144, (400,), 512)]
LATENT = 8


def aekit_fit(X, hidden, batch, epochs, activation="relu"):
    # fp32, as the plain loop runs: this compares the loops' overheads, not the arithmetic (on a
    # CPU with native bf16, aekit's default would train the 784-400 VAE in bf16, ~2x faster).
    vae = aekit.VAE(latent_dim=LATENT, hidden_dims=hidden, epochs=epochs, batch_size=batch,
                    validation_fraction=0.0, patience=None, lr_schedule="constant", verbose=0, random_state=0,
                    precision="fp32", activation=activation)
    start = time.perf_counter()
    vae.fit(X)
    return time.perf_counter() - start, vae


def plain_fit(X, model, batch, epochs):
    """The loop a user would write around aekit's network: Gaussian NLL with the model's own
    likelihood, the analytic KL, fused Adam; standardised data and a fixed batch order."""
    x_all = torch.from_numpy(X)
    x_all = (x_all - x_all.mean(0)) / x_all.std(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for first in range(0, len(X), batch):
            x = x_all.index_select(0, order[first:first + batch])
            out = model(x)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def per_step(case, rounds: int, epochs: int) -> tuple[dict, list[dict]]:
    name, d, n, hidden, batch = case
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    steps = epochs * -(-n // batch)
    _, vae = aekit_fit(X, hidden, batch, 1)  # warm-up, and the network for the plain loop
    model = vae.model_
    times = {"aekit": [], "plain": []}
    for _ in range(rounds):
        times["aekit"].append(aekit_fit(X, hidden, batch, epochs)[0] / steps)
        times["plain"].append(plain_fit(X, model, batch, epochs) / steps)
    ops = {}
    for tool, run in (("aekit", lambda: aekit_fit(X, hidden, batch, epochs)),
                      ("plain", lambda: plain_fit(X, model, batch, epochs))):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        ops[tool] = {e.key: (e.count / steps, e.self_cpu_time_total / steps) for e in prof.key_averages()
                     if not e.key.startswith(("Optimizer.", "ProfilerStep"))}
    ms = {tool: statistics.median(t) * 1e3 for tool, t in times.items()}
    summary = {"case": name, "aekit_ms_per_step": round(ms["aekit"], 3),
               "plain_ms_per_step": round(ms["plain"], 3),
               "ratio": round(ms["aekit"] / ms["plain"], 3),
               "aekit_ops_per_step": round(sum(c for c, _ in ops["aekit"].values()), 1),
               "plain_ops_per_step": round(sum(c for c, _ in ops["plain"].values()), 1)}
    extra = sorted(set(ops["aekit"]) | set(ops["plain"]),
                   key=lambda k: ops["plain"].get(k, (0, 0))[1] - ops["aekit"].get(k, (0, 0))[1])
    rows = [{"case": name, "op": k, "aekit_calls": round(ops["aekit"].get(k, (0, 0))[0], 1),
             "plain_calls": round(ops["plain"].get(k, (0, 0))[0], 1),
             "extra_us": round(ops["aekit"].get(k, (0, 0))[1] - ops["plain"].get(k, (0, 0))[1], 1)}
            for k in extra[:10]]
    return summary, rows


def fixed_costs(n: int) -> dict:
    """Seconds of one fit's phases outside the steps (cumulative cProfile times)."""
    X = np.random.default_rng(0).integers(0, 256, size=(n, 784), dtype=np.uint8)
    aekit_fit(X[:1024], (400,), 512, 1)  # the first optimiser of a process imports torch._dynamo
    profiler = cProfile.Profile()
    profiler.enable()
    seconds, _ = aekit_fit(X, (400,), 512, 1)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    phases = {"validate_samples": "validate_samples", "summarize (statistics pass)": "summarize",
              "optimiser and run set-up": "__init__"}
    found = {}
    for (path, _, function), (_, _, _, cumulative, _) in stats.items():
        for phase, wanted in phases.items():
            if function == wanted and ("estimators" in path or "preprocessing" in path or "loop" in path):
                found[phase] = round(cumulative, 3)
    return {"rows": n, "fit_seconds": round(seconds, 3), **found}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and epochs")
    args = parser.parse_args()
    rounds, epochs = (3, 2) if args.quick else (7, 10)
    summaries, rows = [], []
    for case in CASES:
        summary, extra = per_step(case, rounds, epochs)
        summaries.append(summary)
        rows.extend(extra)
        print(summary)
        for row in extra:
            print("   ", row)
    fixed = fixed_costs(6000 if args.quick else 60000)
    print(fixed)
    write_result("profile_fit", summaries, quick=args.quick, extra_ops=rows, fixed_costs=fixed)


if __name__ == "__main__":
    main()
