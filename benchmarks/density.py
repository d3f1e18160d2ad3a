"""Question: given the same minutes, whose VAE and IWAE reach the better likelihood, aekit's or pythae's?

Dynamically binarised Fashion-MNIST (every batch a fresh Bernoulli draw of the 60k training
images; the 10k test images binarised once, seeded). One architecture for all: the
pytorch/examples VAE (784-400-20, Bernoulli), batch 128, Adam at 1e-3. Compared: aekit's
``VAE(binarize=True)`` with ``importance_samples`` 1 (ELBO) and 5 (IWAE) and pythae 0.1.2's VAE and
IWAE (5 samples) on a dataset that draws a fresh binarisation per item. Each model gets the
same wall-clock budget: after a warm-up, runs of one and three epochs time an epoch, and the
model trains for as many whole epochs as fit in the budget. The test NLL is importance-sampled
with 1,000 draws from each model's q(z|x), by one estimator for all
(mlp_vae.negative_log_likelihood).

    python benchmarks/density.py [--quick] [--budget SECONDS] [--k 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from common import load_fashion_mnist, write_result
from mlp_vae import D, aekit_parts, aekit_vae, negative_log_likelihood, pythae_model, pythae_parts

IWAE_SAMPLES = 5


def train_pythae(X01: torch.Tensor, n_samples: int, epochs: int):
    from pythae.data.datasets import BaseDataset, DatasetOutput
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    class Binarised(BaseDataset):
        def __getitem__(self, index):
            return DatasetOutput(data=torch.bernoulli(self.data[index]), labels=self.labels[index])

    torch.manual_seed(0)
    model = pythae_model(n_samples)
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=1e-3,
                                   per_device_train_batch_size=128, no_cuda=True, seed=0)
        BaseTrainer(model, Binarised(X01, torch.zeros(len(X01))), training_config=config).train()
    return pythae_parts(model)


def train_aekit(X_uint8: np.ndarray, n_samples: int, epochs: int):
    vae = aekit_vae(binarize=True, importance_samples=n_samples, epochs=epochs, batch_size=128).fit(X_uint8)
    return aekit_parts(vae)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training and 200 test images, 10 s budget, k = 100")
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per model")
    parser.add_argument("--k", type=int, default=1000, help="importance samples for the test NLL")
    args = parser.parse_args()
    X_train, _, X_test, _ = load_fashion_mnist()
    budget, k = (10.0, 100) if args.quick else (args.budget, args.k)
    if args.quick:
        X_train, X_test = X_train[:6000], X_test[:200]
    X_uint8 = X_train.reshape(len(X_train), D)
    X01 = torch.from_numpy(X_uint8).float().div(255)
    test = torch.bernoulli(torch.from_numpy(X_test.reshape(-1, D)).float().div(255),
                           generator=torch.Generator().manual_seed(0))

    rows = []
    for tool, train, data in (("aekit", train_aekit, X_uint8), ("pythae 0.1.2", train_pythae, X01)):
        for n_samples in (1, IWAE_SAMPLES):
            # Seconds per epoch without start-up costs: after a warm-up run, (3 epochs - 1) / 2.
            _, one, three = (timed(train, data, n_samples, e)[1] for e in (1, 1, 3))
            epochs = max(1, int(budget * 2 / max(three - one, 1e-3)))
            (encode, decode), seconds = timed(train, data, n_samples, epochs)
            nll, nll_seconds = timed(negative_log_likelihood, encode, decode, test, k)
            objective = "VAE (ELBO)" if n_samples == 1 else f"IWAE (k={n_samples})"
            rows.append({"tool": tool, "objective": objective, "epochs": epochs,
                         "train_seconds": round(seconds, 1), "test_nll": round(nll, 2),
                         "nll_seconds": round(nll_seconds, 1)})
            print(rows[-1], flush=True)
    write_result("density", rows, quick=args.quick, budget_seconds=budget, importance_samples=k,
                 n_train=len(X_uint8), n_test=len(test))


if __name__ == "__main__":
    main()
