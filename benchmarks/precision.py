"""Question: for which model sizes is bf16 autocast faster than fp32 for training on this CPU?

Trains aekit VAEs of several sizes for one epoch on synthetic data of the right shape, in fp32 and
in bf16 autocast, and reports training samples/s and the ratio. The answer sets
``aekit.training.use_bf16`` (precision="auto").

    python benchmarks/precision.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import aekit
from common import write_result

# (name, sample shape, network, hidden dims, latent dim, batch size)
CASES = [
    ("tabular 20-d MLP 256-128", (20,), "mlp", (256, 128), 8, 128),
    ("digits 64-d MLP 256-128", (64,), "mlp", (256, 128), 8, 64),
    ("digits 1x8x8 conv", (1, 8, 8), "conv", (256,), 8, 64),
    ("784-400-20 MLP, batch 128", (784,), "mlp", (400,), 20, 128),
    ("784-400-20 MLP, batch 512", (784,), "mlp", (400,), 20, 512),
    ("1x28x28 conv, batch 128", (1, 28, 28), "conv", (256,), 16, 128),
    ("3x32x32 conv, batch 128", (3, 32, 32), "conv", (256,), 32, 128),
]


def samples_per_second(shape, network, hidden, latent, batch, precision, n) -> float:
    X = np.random.default_rng(0).integers(0, 256, size=(n, *shape), dtype=np.uint8)
    vae = aekit.VAE(latent_dim=latent, network=network, hidden_dims=hidden, epochs=1, batch_size=batch,
                    validation_fraction=0.0, patience=None, verbose=0, random_state=0,
                    precision=precision, scaler="minmax")
    vae.fit(X[: 4 * batch])  # warm-up: first-call allocations and kernel selection
    start = time.perf_counter()
    vae.fit(X)
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples per case")
    args = parser.parse_args()
    rows = []
    for name, shape, network, hidden, latent, batch in CASES:
        n = (40 if args.quick else 200) * batch
        fp32 = samples_per_second(shape, network, hidden, latent, batch, "fp32", n)
        bf16 = samples_per_second(shape, network, hidden, latent, batch, "bf16", n)
        rows.append({"case": name, "batch_size": batch, "fp32_samples_s": round(fp32),
                     "bf16_samples_s": round(bf16), "bf16_speedup": round(bf16 / fp32, 2)})
        print(f"{name:32s} fp32 {fp32:9,.0f}/s  bf16 {bf16:9,.0f}/s  x{bf16 / fp32:.2f}", flush=True)
    write_result("precision", rows, quick=args.quick)


if __name__ == "__main__":
    main()
