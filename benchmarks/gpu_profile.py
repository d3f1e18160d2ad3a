"""Question: where does aekit's GPU training step spend its time?

One epoch of the 784-400-20 MLP VAE (mlp_vae.py) on 12,000 Fashion-MNIST images at batch 512
(24 steps), after a warm-up fit, under ``torch.profiler``, in fp32 and in bf16 autocast. Prints
the kernel launches per step and the operators by host time; the profiler's "Self CUDA time
total" against "Self CPU time total" says whether the GPU or the host (Python, launches) sets
the pace.

    python benchmarks/gpu_profile.py      # on a machine with a CUDA GPU
"""

from __future__ import annotations

import math

from torch.profiler import ProfilerActivity, profile

from common import load_fashion_mnist
from mlp_vae import aekit_vae

N, BATCH = 12_000, 512
LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")


def main():
    X, *_ = load_fashion_mnist()
    X = X[:N].reshape(N, -1)
    common = dict(batch_size=BATCH, validation_fraction=0.0, patience=None, lr_schedule="constant",
                  device="cuda")
    aekit_vae(epochs=2, **common).fit(X)  # warm-up: CUDA context, cuBLAS handles, kernels loaded
    steps = math.ceil(N / BATCH)
    for precision in ("fp32", "bf16"):
        model = aekit_vae(epochs=1, precision=precision, **common)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            model.fit(X)
        table = prof.key_averages()
        launches = sum(event.count for event in table if event.key in LAUNCHES)
        print(f"== {precision}: {launches / steps:.0f} kernel launches per step")
        print(table.table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
