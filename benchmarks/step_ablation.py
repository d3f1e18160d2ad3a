"""Question: what does each change to the training step buy, and does it change what is trained?

Fits of the same model alternate in one process, each with one change undone, so that the
machine's drift (+-20% between minutes on a shared 2-core CPU) falls on every variant alike;
the table gives the median seconds of each variant over the rounds and the validation loss it
ended on (the changes must not move it):

* `direct gradients`: the step's gradients written out (aekit.training.fused) against the
  modules' forward pass and autograd;
* `AdamStep`: the fused Adam kernel called directly (aekit.training.adam) against
  ``optimizer.step()``;
* `2-D decoder input` (autograd's path): the MLP decoder's layers run on an (n, latent) matrix
  of codes against the (1, n, latent) tensor the bottleneck returns (torch's batched matmul).

Cases: the default VAE on a 21-column table (256-128, fp32), the same with learned variances,
and the 784-400-20 Bernoulli VAE on Fashion-MNIST at batch 128 and 512 (bf16 where the CPU has
it natively).

    python benchmarks/step_ablation.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import aekit
import aekit.training.adam as adam
import aekit.training.fused as fused
from aekit.nn import networks
from common import load_fashion_mnist, write_result
from mlp_vae import aekit_vae

DIRECT_KERNEL = adam._KERNEL
TWO_D = networks.MLPDecoder.forward
SUPPORTS = fused.supports


def three_d_forward(self, z):
    """The decoder's forward pass before the change: the layers see the codes' (k, n, latent)."""
    h = self.head(self.body(z))
    return h.view(*z.shape[:-1], *self.out_shape)


def never(*args) -> bool:
    return False


VARIANTS = {  # name: (which models get direct gradients, Adam kernel, decoder forward)
    "as shipped": (SUPPORTS, DIRECT_KERNEL, TWO_D),
    "autograd": (never, DIRECT_KERNEL, TWO_D),
    "autograd, optimizer.step()": (never, None, TWO_D),
    "autograd, 3-D decoder input": (never, DIRECT_KERNEL, three_d_forward),
    "none of them (before)": (never, None, three_d_forward),
}


def cases(quick: bool):
    table = np.random.default_rng(0).normal(size=(600 if quick else 3000, 21)).astype(np.float32)
    images = load_fashion_mnist()[0][: 2048 if quick else 20480].reshape(-1, 784)
    return {
        "table 21 cols, VAE defaults": (
            lambda: aekit.VAE(epochs=5 if quick else 40, validation_fraction=0.1, verbose=0, random_state=0),
            table),
        "table 21 cols, VAE with learned variances": (
            lambda: aekit.VAE(epochs=5 if quick else 40, likelihood="gaussian_learned",
                              validation_fraction=0.1, verbose=0, random_state=0),
            table),
        "784-400-20 VAE, batch 128": (
            lambda: aekit_vae(epochs=1, batch_size=128, validation_fraction=0.1, patience=None,
                              lr_schedule="constant"), images),
        "784-400-20 VAE, batch 512": (
            lambda: aekit_vae(epochs=1 if quick else 3, batch_size=512, validation_fraction=0.1,
                              patience=None, lr_schedule="constant"), images),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, one round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    rows = []
    try:
        for case, (make, X) in cases(args.quick).items():
            seconds = {name: [] for name in VARIANTS}
            val_loss = {}
            make().fit(X)  # warm-up: the first fit of a process pays one-off imports
            for _ in range(rounds):
                for name, (supports, kernel, forward) in VARIANTS.items():
                    fused.supports, adam._KERNEL, networks.MLPDecoder.forward = supports, kernel, forward
                    model = make()
                    start = time.perf_counter()
                    model.fit(X)
                    seconds[name].append(time.perf_counter() - start)
                    val_loss[name] = model.history_["val_loss"][-1]
            before = statistics.median(seconds["none of them (before)"])
            for name in VARIANTS:
                median = statistics.median(seconds[name])
                rows.append({"case": case, "variant": name, "seconds": round(median, 3),
                             "speedup_vs_before": round(before / median, 3),
                             "val_loss": round(val_loss[name], 4)})
                print(rows[-1], flush=True)
    finally:
        fused.supports, adam._KERNEL, networks.MLPDecoder.forward = SUPPORTS, DIRECT_KERNEL, TWO_D
    write_result("step_ablation", rows, quick=args.quick, rounds=rounds)


if __name__ == "__main__":
    main()
