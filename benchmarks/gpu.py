"""Question: how fast does aekit train on a GPU, against pythae and a plain PyTorch loop?

Two models on Fashion-MNIST scaled to [0, 1], at batch 128, 512 and 2048, all on one device in
the same run:

* the pytorch/examples VAE (784-400-20 MLP, Bernoulli likelihood; mlp_vae.py), and
* aekit's convolutional autoencoder (``network="conv"``, a 16-number code, Bernoulli), whose
  very modules the plain loop and pythae train, so all three run the same arithmetic.

Tools: a plain loop (a ``DataLoader`` over a ``TensorDataset`` on the host, each batch copied to
the device: the loop most users write), pythae 0.1.2's ``BaseTrainer``, and aekit with its
defaults (``precision="auto"``: bf16 autocast on a GPU that has it). Each trains from scratch
for the same epochs; the table reports samples/s, the median epoch time after the first epoch
(warm-up), the ratio to pythae, and the achieved TFLOP/s (training FLOPs counted by
``torch.utils.flop_counter``) against this device's measured bf16 matmul peak.

Targets (issue 10), on one H100/H200: an MLP-VAE epoch under 0.3 s at batch 512, and >= 10x
pythae's samples/s at the same batch.

    python benchmarks/gpu.py [--quick] [--epochs N] [--device cuda]

``--device cpu`` runs the same comparison on the CPU (a check of the script, written to
``results/gpu_cpu*.json``, not a GPU figure).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import aekit
from aekit.model import AutoencoderNet, ModelConfig
from common import load_fashion_mnist, write_result
from mlp_vae import Decoder, Encoder, aekit_vae, pythae_model

CONV_LATENT = 16


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_tflops(device: torch.device, dtype=torch.bfloat16) -> float:
    # A CPU without AMX emulates bf16 slowly: a small product is enough to measure it.
    n, repeats = (8192, 20) if device.type == "cuda" else (1024, 3)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


# ---------------------------------------------------------------------- the two models, plainly
class MLPVAE(nn.Module):
    """The pytorch/examples VAE; ``loss`` is its negative ELBO summed over the batch."""

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()

    def loss(self, x):
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        nll = F.binary_cross_entropy_with_logits(self.decoder(z), x.reshape(len(x), -1), reduction="sum")
        return nll - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def conv_net() -> AutoencoderNet:
    """aekit's conv autoencoder for 28x28 images, as a module any loop can train."""
    config = ModelConfig(sample_shape=(1, 28, 28), latent_dim=CONV_LATENT, network="conv",
                         hidden_dims=(256,), likelihood="bernoulli")
    return AutoencoderNet(config)


class ConvAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = conv_net()

    def logits(self, x):
        net = self.net
        return net.decoder(net.bottleneck(net.encoder(x)).mean)  # Bernoulli logits, (n, 1, 28, 28)

    def loss(self, x):
        return F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="sum")


def train_flops_per_sample(model: nn.Module, x: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        model.loss(x).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


# ---------------------------------------------------------------------- the three tools
def run_plain(model: nn.Module, X: torch.Tensor, batch: int, epochs: int, device) -> list[float]:
    torch.manual_seed(0)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=batch, shuffle=True,
                                         pin_memory=device.type == "cuda")
    times = []
    for _ in range(epochs):
        synchronize(device)
        start = time.perf_counter()
        for (x,) in loader:
            loss = model.loss(x.to(device, non_blocking=True))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def pythae_wrapped(kind: str):
    from pythae.models import AE, AEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    if kind == "mlp_vae":
        return pythae_model()
    net = conv_net()

    class PEncoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.encoder, self.bottleneck = net.encoder, net.bottleneck

        def forward(self, x):
            return ModelOutput(embedding=self.bottleneck(self.encoder(x)).mean)

    class PDecoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.decoder = net.decoder

        def forward(self, z):
            logits = self.decoder(z)
            return ModelOutput(reconstruction=torch.sigmoid(logits.reshape(len(z), 1, 28, 28)))

    config = AEConfig(input_dim=(1, 28, 28), latent_dim=CONV_LATENT, reconstruction_loss="bce")
    return AE(config, encoder=PEncoder(), decoder=PDecoder())


def run_pythae(kind: str, X: torch.Tensor, batch: int, epochs: int, device) -> list[float]:
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    class EpochClock(TrainingCallback):
        def __init__(self):
            self.times, self.start = [], None

        def on_epoch_begin(self, training_config, **kwargs):
            synchronize(device)
            self.start = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            synchronize(device)
            self.times.append(time.perf_counter() - self.start)

    torch.manual_seed(0)
    logging.getLogger("pythae").setLevel(logging.ERROR)
    model = pythae_wrapped(kind)
    data = X.reshape(len(X), -1) if kind == "mlp_vae" else X
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=1e-3,
                                   per_device_train_batch_size=batch, no_cuda=device.type != "cuda",
                                   seed=0)
        BaseTrainer(model, BaseDataset(data, torch.zeros(len(data))), training_config=config,
                    callbacks=[clock]).train()
    return clock.times


class AekitClock:
    def __init__(self):
        self.times = []

    def on_epoch_end(self, report):  # the loop reads the loss at each epoch's end: a sync point
        self.times.append(report.seconds)


def run_aekit(kind: str, X_uint8, batch: int, epochs: int, device, compile: bool = False
              ) -> tuple[list[float], str]:
    common = {"epochs": epochs, "batch_size": batch, "validation_fraction": 0.0, "patience": None,
              "lr_schedule": "constant", "device": str(device), "compile": compile}
    if kind == "mlp_vae":
        model = aekit_vae(**common)
        data = X_uint8.reshape(len(X_uint8), -1)
    else:
        # ReLU, as in the network the plain loop and pythae train (aekit's own default for
        # "conv" is SiLU since 2026-11-23; the H100 figures of 2026-11-22 were all ReLU).
        model = aekit.AutoEncoder(latent_dim=CONV_LATENT, network="conv", hidden_dims=(256,),
                                  activation="relu", likelihood="bernoulli", verbose=0, random_state=0,
                                  **common)
        data = X_uint8
    clock = AekitClock()
    model.fit(data, callbacks=[clock])
    return clock.times, model.precision_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images, two epochs")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compile", action="store_true",
                        help="aekit with and without compile=True instead of the three tools "
                             "(results/gpu_compile.json); the first epoch, which compiles, is not timed")
    parser.add_argument("--batch-sizes", default="128,512,2048")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run on a GPU machine, or pass --device cpu to check the script")
    X_train, *_ = load_fashion_mnist()
    n = 6000 if args.quick else len(X_train)
    epochs = 2 if args.quick else args.epochs
    X_uint8 = X_train[:n]
    X = torch.from_numpy(X_uint8).float().div(255)
    peak = matmul_peak_tflops(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}: bf16 dense matmul peak {peak:.3f} TFLOP/s", flush=True)
    rows = []
    base = "aekit" if args.compile else "pythae 0.1.2"  # what the ratio column compares with
    for kind, plain_model in (("mlp_vae", MLPVAE), ("conv_ae", ConvAE)):
        flops = train_flops_per_sample(plain_model(), X[:64])
        for batch in map(int, args.batch_sizes.split(",")):
            same = (batch, epochs, device)
            if args.compile:
                results = {"aekit": run_aekit(kind, X_uint8, *same),
                           "aekit compile=True": run_aekit(kind, X_uint8, *same, compile=True)}
            else:
                results = {"plain DataLoader loop": (run_plain(plain_model(), X, *same), "fp32"),
                           "pythae 0.1.2": (run_pythae(kind, X, *same), "fp32"),
                           "aekit": run_aekit(kind, X_uint8, *same)}
            base_rate = n / statistics.median(results[base][0][1:] or results[base][0])
            for tool, (times, precision) in results.items():
                epoch_s = statistics.median(times[1:] or times)  # the first epoch warms up (or compiles)
                rate = n / epoch_s
                rows.append({"model": kind, "batch_size": batch, "tool": tool, "precision": precision,
                             "epoch_s": round(epoch_s * 60000 / n, 3), "samples_s": round(rate),
                             f"vs_{base.split()[0]}": round(rate / base_rate, 2),
                             "tflops": round(flops * rate / 1e12, 3),
                             "of_bf16_peak": round(flops * rate / 1e12 / peak, 4)})
                print(f"{kind:8s} batch {batch:4d}  {tool:22s} {precision:4s} {rate:11,.0f} samples/s  "
                      f"epoch(60k) {epoch_s * 60000 / n:7.3f} s  x{rate / base_rate:5.2f} vs {base}  "
                      f"{flops * rate / 1e12:7.3f} TFLOP/s", flush=True)
    result = ("gpu" if device.type == "cuda" else f"gpu_{device.type}") + ("_compile" if args.compile else "")
    write_result(result, rows, quick=args.quick, epochs=epochs, n_train=n, device=name,
                 bf16_matmul_peak_tflops=round(peak, 2))


if __name__ == "__main__":
    main()
