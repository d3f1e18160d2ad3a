"""Question: how fast do aekit's networks train on this CPU, and what made "conv" faster?

Training steps of an autoencoder to 10 codes (Gaussian likelihood, Adam, batch 128, one
process, fp32 unless the CPU has AMX) on random 28x28 images and 32-step windows; the rate is
samples per second over timed steps after warm-up steps (the median of three rounds), and
`gflop_s` the arithmetic it achieved (torch's FlopCounterMode over one step: matrix products and
convolutions, forward and backward). Two variants undo one change each: today's conv with a
contiguous memory layout, and with the earlier widths 32-64-128. "conv (before)" rebuilds the
image network as it was before issue #12 (32-64-128 channels; its decoder kept 32 channels at
full resolution and added a head convolution there; contiguous layout) as a custom network, so
the same run compares the two designs. The rows run ReLU, ModelConfig's default, and one dense
layer of 256 between the convolutions and the code; the estimators build "conv" with SiLU and
512 (their "auto" activation and default hidden_dims for it), the row so named. Quality at
equal training is measured by benchmarks/representation.py, not here.

    python benchmarks/conv_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from itertools import pairwise

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from aekit.model import AutoencoderNet, ModelConfig
from aekit.nn.custom import CustomNetwork
from aekit.training import use_bf16
from common import write_result


def before_encoder(sample_shape, channels=(32, 64, 128)):
    c, h, w = sample_shape
    layers, sizes = [], [(h, w)]
    for c_in, c_out in pairwise([c, *channels]):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    flat = channels[-1] * math.prod(sizes[-1])
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, 256), nn.ReLU())


def before_decoder(sample_shape, in_features, n_params, channels=(32, 64, 128)):
    c, h, w = sample_shape
    sizes = [(h, w)]
    for _ in channels:
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    sizes.reverse()
    widths = [*reversed(channels), channels[0]]  # the last stage kept its width
    layers = [nn.Linear(in_features, 256), nn.ReLU(), nn.Linear(256, widths[0] * math.prod(sizes[0])),
              nn.ReLU(), nn.Unflatten(1, (widths[0], *sizes[0]))]
    for i, (c_in, c_out) in enumerate(pairwise(widths)):
        (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i + 1]
        layers += [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                      output_padding=(h_out - 2 * h_in + 1, w_out - 2 * w_in + 1)), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(widths[-1], c * n_params, 3, padding=1))


VARIANTS = {  # name: ModelConfig fields, and whether to undo the channels-last layout
    "conv (before)": {"network": CustomNetwork(before_encoder, before_decoder), "sample_shape": (1, 28, 28)},
    "conv, contiguous layout": {"network": "conv", "sample_shape": (1, 28, 28), "contiguous": True},
    "conv, widths 32-64-128": {"network": "conv", "sample_shape": (1, 28, 28),
                               "conv_channels": (32, 64, 128)},
    "conv": {"network": "conv", "sample_shape": (1, 28, 28)},
    "conv, SiLU": {"network": "conv", "sample_shape": (1, 28, 28), "activation": "silu"},
    "conv, SiLU, hidden 512 (the estimators' default)": {"network": "conv", "sample_shape": (1, 28, 28),
                                                         "activation": "silu", "hidden_dims": (512,)},
    "resnet": {"network": "resnet", "sample_shape": (1, 28, 28)},
    "mlp": {"network": "mlp", "sample_shape": (1, 28, 28)},
    "temporal (window 32)": {"network": "temporal", "sample_shape": (32,)},
    "mlp (window 32)": {"network": "mlp", "sample_shape": (32,)},
    "temporal (5 x 32 window)": {"network": "temporal", "sample_shape": (5, 32)},
}

ROUNDS = 3


def train_rate(network, sample_shape, steps: int, contiguous: bool = False, warmup: int = 5,
               batch: int = 128, **fields) -> dict:
    torch.manual_seed(0)
    fields.setdefault("hidden_dims", (256, 128) if network == "mlp" else (256,))
    model = AutoencoderNet(ModelConfig(sample_shape=sample_shape, latent_dim=10, network=network,
                                       **fields))
    if contiguous:
        model.to(memory_format=torch.contiguous_format)
    bf16 = use_bf16("auto", model)
    x = torch.rand(batch, *sample_shape)
    optimizer = torch.optim.Adam(model.parameters(), fused=True)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:  # multiply-adds x 2, forward and backward
        step()
    for _ in range(warmup):
        step()
    # The median of three timed rounds: on a shared 2-core machine one round can run at half speed.
    rates = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(batch * steps / (time.perf_counter() - start))
    rate = statistics.median(rates)
    gflop_s = round(counter.get_total_flops() * rate / batch / 1e9, 1)
    return {"train_samples_per_s": round(rate), "gflop_s": gflop_s,
            "parameters": sum(p.numel() for p in model.parameters()), "precision": "bf16" if bf16 else "fp32"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timed steps per network")
    args = parser.parse_args()
    steps = 5 if args.quick else 60
    rows = []
    for name, fields in VARIANTS.items():
        rows.append({"network": name, "sample_shape": "x".join(map(str, fields["sample_shape"])),
                     **train_rate(steps=steps, **fields)})
        print(rows[-1], flush=True)
    before = rows[0]["train_samples_per_s"]
    for row in rows:
        if row["sample_shape"] == "1x28x28":
            row["vs_conv_before"] = round(row["train_samples_per_s"] / before, 2)
    write_result("conv_speed", rows, quick=args.quick, steps=steps, rounds=ROUNDS, batch=128)


if __name__ == "__main__":
    main()
