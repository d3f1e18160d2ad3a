"""Question: does a 2-process torchrun fit (DistributedDataParallel, gloo on the CPU) train the
weights one process trains, and what does it cost here?

The same fits in one process (all cores) and under ``torchrun --nproc-per-node=2`` (one thread
per process): the pytorch/examples VAE (784-400-20 MLP, Bernoulli) and aekit's conv
autoencoder on Fashion-MNIST, seed 0, the same global batch. Reported: fit wall time,
samples/s, the largest difference of any final weight, and the final validation losses. A
control run in one process with one thread changes nothing but the order in which the CPU's
kernels add numbers: the 2-process run should differ from the 1-process run no more than that.
On a 2-core CPU two processes split the same cores, so this shows correctness, not a speed-up;
GPU figures are benchmarks/gpu.py's.

    python benchmarks/ddp.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import aekit
from common import load_fashion_mnist, write_result

MODELS = {
    "mlp_vae": lambda **kw: aekit.VAE(latent_dim=20, network="mlp", hidden_dims=(400,),
                                      likelihood="bernoulli", **kw),
    "conv_ae": lambda **kw: aekit.AutoEncoder(latent_dim=16, network="conv", likelihood="bernoulli", **kw),
}


def fit_all(n: int, epochs: int, out: Path) -> None:
    """Fit every model; the main process writes weights and timings to ``out``."""
    X = load_fashion_mnist()[0][:n]
    record = {}
    for name, make in MODELS.items():
        model = make(epochs=epochs, batch_size=256, random_state=0, verbose=0, device="cpu")
        start = time.perf_counter()
        model.fit(X.reshape(n, -1) if name == "mlp_vae" else X)
        seconds = time.perf_counter() - start
        if os.environ.get("RANK", "0") == "0":
            save_file({k: v.contiguous() for k, v in model.model_.state_dict().items()},
                      str(out / f"{name}.safetensors"))
            record[name] = {"seconds": seconds, "val_loss": model.history_["val_loss"],
                            "processes": model.n_processes_}
    if os.environ.get("RANK", "0") == "0":
        (out / "record.json").write_text(json.dumps(record))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images, two epochs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: fit and write here
    parser.add_argument("--images", type=int, help=argparse.SUPPRESS)  # not --n: torchrun would take it
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.worker:
        fit_all(args.images, args.epochs, Path(args.worker))
        return
    n, epochs = (2000, 2) if args.quick else (20000, args.epochs)
    runs = {}
    setups = {"1 process": (1, None), "1 process, 1 thread (control)": (1, 1),
              "2 processes (torchrun)": (2, max(1, torch.get_num_threads() // 2))}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (processes, threads) in setups.items():
            out = Path(tmp) / str(len(runs))
            out.mkdir()
            worker = [__file__, "--worker", str(out), "--images", str(n), "--epochs", str(epochs)]
            env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
            if processes == 1:
                command = [sys.executable, *worker]
            else:
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={processes}", *worker]
            subprocess.run(command, check=True, env=env)
            runs[label] = (json.loads((out / "record.json").read_text()),
                           {m: load_file(str(out / f"{m}.safetensors")) for m in MODELS})
    rows = []
    n_train = n - int(n * 0.1)
    for name in MODELS:
        reference = runs["1 process"][1][name]
        for label, (records, weights) in runs.items():
            record = records[name]
            worst = max((reference[k] - weights[name][k]).abs().max().item() for k in reference)
            rows.append({"model": name, "run": label, "processes": record["processes"],
                         "fit_s": round(record["seconds"], 2),
                         "samples_s": round(n_train * epochs / record["seconds"]),
                         "final_val_loss": round(record["val_loss"][-1], 4),
                         "max_weight_diff_vs_1_process": worst,
                         "largest_weight": round(max(t.abs().max().item() for t in reference.values()), 4)})
            print(f"{name:8s} {label:30s} {record['seconds']:6.1f} s, final val loss "
                  f"{record['val_loss'][-1]:.4f}, weights differ from 1 process by <= {worst:.2e}")
    write_result("ddp", rows, quick=args.quick, n_train=n_train, epochs=epochs, batch_size=256)


if __name__ == "__main__":
    main()
