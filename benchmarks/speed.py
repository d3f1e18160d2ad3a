"""Question: how fast does aekit train the pytorch/examples VAE, against pythae and a plain loop?

The architecture of pytorch/examples `vae/main.py` (784-400-20, ReLU, Bernoulli likelihood,
Adam at 1e-3) on Fashion-MNIST scaled to [0, 1], at batch 128, 512 and 2048, in one process:

* plain:  the example's own loop, a `DataLoader` over a `TensorDataset`, default Adam
* pythae:  pythae 0.1.2's VAE with the same encoder/decoder and its `BaseTrainer`
* aekit:  `aekit.VAE(hidden_dims=(400,), latent_dim=20, likelihood="bernoulli")`, default
  precision ("auto": bf16 autocast for this size) and, for reference, forced fp32

Each trains for the same epochs from scratch; the table reports training samples/s, the ratio to
pythae and the negative ELBO per test image afterwards (same estimator for all), so speed is
never bought with a worse model. The machine's dense-matmul peak (fp32 and bf16) is measured in
the same run for the achieved-GFLOP/s column. A shared machine's speed drifts by tens of percent
within minutes, so pythae and aekit's default train alternately ``--rounds`` times at each batch
size and the table gives each one's median rate (the ratio is of the medians) and the range of
its rounds; the plain loop and the forced-fp32 aekit run once.

    python benchmarks/speed.py [--quick] [--epochs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from common import load_fashion_mnist, machine, write_result
from mlp_vae import (
    FORWARD_MACS,
    D,
    Decoder,
    Encoder,
    aekit_parts,
    aekit_vae,
    negative_elbo,
    pythae_model,
    pythae_parts,
)


def run_plain(X, X_test, batch, epochs):
    torch.manual_seed(0)
    enc, dec = Encoder(), Decoder()
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=batch, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        for (x,) in loader:
            mu, logvar = enc(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            loss = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum") \
                - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    return seconds, negative_elbo(enc, dec, X_test)


def run_pythae(X, X_test, batch, epochs):
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(0)
    model = pythae_model()
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=1e-3,
                                   per_device_train_batch_size=batch, no_cuda=True, seed=0)
        trainer = BaseTrainer(model, BaseDataset(X, torch.zeros(len(X))), training_config=config)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    return seconds, negative_elbo(*pythae_parts(model), X_test)


def run_aekit(X_uint8, X_test, batch, epochs, precision):
    vae = aekit_vae(epochs=epochs, batch_size=batch, validation_fraction=0.0, patience=None,
                    lr_schedule="constant", precision=precision)
    start = time.perf_counter()
    vae.fit(X_uint8)
    seconds = time.perf_counter() - start
    return seconds, negative_elbo(*aekit_parts(vae), X_test), vae.precision_


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images, one epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of pythae and aekit")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    X_train, _, X_test, _ = load_fashion_mnist()
    n = 6000 if args.quick else len(X_train)
    epochs = 1 if args.quick else args.epochs
    X_uint8 = X_train[:n].reshape(n, D)
    X = torch.from_numpy(X_uint8).float().div(255)
    X_test = torch.from_numpy(X_test[: 2000 if args.quick else None].reshape(-1, D)).float().div(255)

    # Without native bf16 (AMX or AVX-512 BF16) the bf16 product is emulated: under 1 GFLOP/s
    # measured on an AVX2 CPU, ten minutes for this one figure, and aekit trains in fp32 there.
    native_bf16 = bool({"amx_bf16", "avx512_bf16"} & set(machine()["cpu_isa"]))
    peak = {"fp32": matmul_peak_gflops(torch.float32),
            "bf16": matmul_peak_gflops(torch.bfloat16) if native_bf16 else None}
    bf16 = f"{peak['bf16']:.0f} GFLOP/s" if native_bf16 else "not native on this CPU"
    print(f"dense matmul peak: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {bf16}")
    rows = []
    for batch in (128, 512, 2048):
        results = {"plain DataLoader loop": [run_plain(X, X_test, batch, epochs)]}
        for _ in range(rounds):  # alternating, so that drift slows both alike
            results.setdefault("pythae 0.1.2", []).append(run_pythae(X, X_test, batch, epochs))
            seconds, loss, used = run_aekit(X_uint8, X_test, batch, epochs, "auto")
            results.setdefault(f"aekit ({used}, default)", []).append((seconds, loss))
        seconds, loss, used = run_aekit(X_uint8, X_test, batch, epochs, "fp32")
        results[f"aekit ({used})"] = [(seconds, loss)]
        rates = {tool: sorted(n * epochs / seconds for seconds, _ in runs) for tool, runs in results.items()}
        pythae_rate = statistics.median(rates["pythae 0.1.2"])
        for tool, runs in results.items():
            rate, loss = statistics.median(rates[tool]), runs[0][1]
            spread = f"{rates[tool][0]:,.0f}-{rates[tool][-1]:,.0f}" if len(runs) > 1 else None
            rows.append({"batch_size": batch, "tool": tool, "samples_s": round(rate), "rounds_range": spread,
                         "vs_pythae": round(rate / pythae_rate, 2), "test_neg_elbo": round(loss, 2),
                         "gflops": round(3 * 2 * FORWARD_MACS * rate / 1e9, 1)})
            print(f"batch {batch:4d}  {tool:28s} {rate:9,.0f} samples/s ({spread or 'one run'})  "
                  f"x{rate / pythae_rate:4.2f} vs pythae  test -ELBO {loss:7.2f}", flush=True)
    write_result("speed", rows, quick=args.quick, epochs=epochs, n_train=n, rounds=rounds,
                 matmul_peak_gflops={k: None if v is None else round(v) for k, v in peak.items()})


if __name__ == "__main__":
    main()
