"""Question: where does a training step of the 784-400-20 VAE spend its time?

Profiles one aekit fit (bf16 autocast, batch 512, 20,000 Fashion-MNIST images) with
`torch.profiler`, times the two ways of gathering a batch of rows, and measures the conv model's
inference throughput by batch size.

    python benchmarks/profile_step.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

import aekit
from common import load_fashion_mnist, write_result


def microseconds(fn, repeats=200) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 images")
    args = parser.parse_args()
    X = load_fashion_mnist()[0][: 4000 if args.quick else 20000].reshape(-1, 784)
    vae = aekit.VAE(latent_dim=20, network="mlp", hidden_dims=(400,), likelihood="bernoulli", epochs=1,
                    batch_size=512, validation_fraction=0.0, patience=None, lr_schedule="constant",
                    precision="bf16", verbose=0, random_state=0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        vae.fit(X)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    rows = [{"op": e.key, "share": f"{e.self_cpu_time_total / total:.1%}", "calls": e.count,
             "us_per_call": round(e.self_cpu_time_total / e.count, 1)} for e in top]
    for row in rows:
        print(row)
    data = torch.from_numpy(load_fashion_mnist()[0].reshape(-1, 784))
    idx = torch.randperm(len(data))[:512]
    gather = {"advanced indexing X[idx]": microseconds(lambda: data[idx]),
              "X.index_select(0, idx)": microseconds(lambda: data.index_select(0, idx))}
    print({k: f"{v:.1f} us" for k, v in gather.items()})
    inference = conv_inference_by_batch(load_fashion_mnist()[0][: 2048 if args.quick else 8192])
    print({f"batch {b}": f"{r:,.0f} samples/s" for b, r in inference.items()})
    write_result("profile_step", rows, quick=args.quick,
                 gather_512_rows_us={k: round(v, 1) for k, v in gather.items()},
                 conv_inference_samples_s_by_batch=inference)


def conv_inference_by_batch(X) -> dict:
    """Forward-pass throughput of the default conv VAE on 28x28 images at several batch sizes:
    the measurement behind ``AutoencoderNet.inference_batch_size``."""
    vae = aekit.VAE(epochs=1, verbose=0, random_state=0).fit(X[:512])
    x = vae.scaler_.transform(torch.from_numpy(X))
    rates = {}
    with torch.inference_mode():
        for batch in (64, 128, 256, 1024, 4096):
            start = time.perf_counter()
            for i in range(0, len(x), batch):
                vae.model_(x[i:i + batch])
            rates[batch] = round(len(x) / (time.perf_counter() - start))
    return rates


if __name__ == "__main__":
    main()
