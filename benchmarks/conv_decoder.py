"""Question: does a deeper image decoder reach a lower reconstruction error in the same training
time? (an exploration for issue #12's representation target: Fashion-MNIST at k = 10, test SSE
<= 8.0 and kNN-5 >= 0.87 within 10 minutes of training)

The shipped ``"conv"`` decoder upsamples with one transposed convolution per stage. The
candidate (a ``CustomNetwork``, the feature users bring their own networks with) keeps the
shipped encoder and adds a stride-1 3x3 convolution after each upsampling but the last, so the
decoder refines each resolution before doubling it; a third keeps the shipped network with SiLU
in place of ReLU. Each network trains for as many epochs as
fit in ``--budget`` seconds, from its own timed one-epoch run on 6,000 images (that run also
pays the process's and the network's warm-up, so the estimate is cautious: the runs of
2026-11-23 used 266 and 363 s of a 570 s budget); measured as
benchmarks/representation.py measures (AutoEncoder, batch 128, learning rate 2e-3, 5%
validation). Writes results/conv_decoder.json.

    python benchmarks/conv_decoder.py [--budget 570] [--candidate NAME ...]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

import aekit
from aekit.nn.layers import activation
from aekit.nn.networks import ConvDecoder, ConvEncoder
from common import load_fashion_mnist, write_result
from representation import scores

# The image defaults when this exploration ran (2026-11-23), pinned so that it still measures
# the same networks: the estimators have since moved to SiLU and a 512-wide dense layer.
HIDDEN, ACTIVATION = (256,), "relu"


def shipped_encoder(sample_shape):
    return ConvEncoder(sample_shape, list(HIDDEN), ACTIVATION, (16, 32, 64, 128)).to(
        memory_format=torch.channels_last)


class RefinedDecoder(nn.Module):
    """The shipped decoder with a 3x3 convolution (and activation) after every upsampling but
    the last: the last transposed convolution still writes the output."""

    def __init__(self, sample_shape, in_features, n_params):
        super().__init__()
        shipped = ConvDecoder(shipped_encoder(sample_shape), sample_shape, list(HIDDEN), ACTIVATION,
                              in_features, n_params)
        self.dense, self.flat_shape = shipped.dense, shipped.flat_shape
        self.sample_shape, self.n_params = tuple(sample_shape), n_params
        layers = []
        for layer in shipped.stages:
            layers.append(layer)
            if isinstance(layer, nn.ReLU):  # after an inner upsampling's activation
                width = layers[-2].out_channels
                layers += [nn.Conv2d(width, width, 3, padding=1), activation(ACTIVATION)]
        self.stages = nn.Sequential(*layers)
        self.to(memory_format=torch.channels_last)

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.dense(z.reshape(-1, z.shape[-1])).view(-1, *self.flat_shape)
        out = self.stages(h.contiguous(memory_format=torch.channels_last))
        if self.n_params == 1:
            return out.reshape(*lead, *self.sample_shape)
        out = out.reshape(-1, self.n_params, *self.sample_shape).movedim(1, -1)
        return out.reshape(*lead, *self.sample_shape, self.n_params)


def refined_decoder(sample_shape, in_features, n_params):
    return RefinedDecoder(sample_shape, in_features, n_params)


CANDIDATES = {  # name -> the AutoEncoder's network options
    "conv": lambda: {"network": "conv", "activation": ACTIVATION, "hidden_dims": HIDDEN},
    "conv, silu": lambda: {"network": "conv", "activation": "silu", "hidden_dims": HIDDEN},
    "refined": lambda: {"network": aekit.CustomNetwork(shipped_encoder, refined_decoder)},
}


def autoencoder(options, epochs):
    return aekit.AutoEncoder(latent_dim=10, epochs=epochs, batch_size=128, learning_rate=2e-3,
                             validation_fraction=0.05, verbose=0, random_state=0, **options)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=570.0, help="training seconds per network")
    parser.add_argument("--candidate", action="append", choices=CANDIDATES,
                        help="a network to train (repeat for several; default: all)")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    test01 = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
    rows = []
    for name in args.candidate or CANDIDATES:
        start = time.perf_counter()
        autoencoder(CANDIDATES[name](), 1).fit(X_train[:6000])
        epoch_seconds = (time.perf_counter() - start) * len(X_train) / 6000
        epochs = max(1, math.floor(args.budget / epoch_seconds))
        ae = autoencoder(CANDIDATES[name](), epochs)
        start = time.perf_counter()
        ae.fit(X_train)
        seconds = time.perf_counter() - start
        hat = ae.reconstruct(X_test).astype(np.float32) / 255
        row = scores(f"aekit AutoEncoder ({name})", 10, ae.transform(X_train), ae.transform(X_test),
                     hat, test01, y_train, y_test, seconds)
        row.update(epochs=epochs, parameters=sum(p.numel() for p in ae.model_.parameters()))
        rows.append(row)
        print(row, flush=True)
    write_result("conv_decoder", rows, quick=False, budget_seconds=args.budget, n_train=len(X_train),
                 n_test=len(X_test))


if __name__ == "__main__":
    main()
