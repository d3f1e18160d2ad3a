"""Question: do worker processes pay for a user's torch Dataset whose items take work to make?

A Dataset that decodes each item from PNG bytes (Fashion-MNIST, 20,000 images) and the
784-400-20 VAE (batch 512, 2 epochs), wrapped in ``aekit.data.datasets.DatasetRows`` with 0
(read in the training thread), 1 and 2 worker processes. The fit time includes the one pass that
computes the scaler's statistics, which reads items in the training process.

    python benchmarks/dataset_workers.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch
from PIL import Image

import aekit
from aekit.data.datasets import DatasetRows
from common import load_fashion_mnist, write_result


class PNGs(torch.utils.data.Dataset):
    def __init__(self, blobs: list[bytes]):
        self.blobs = blobs

    def __len__(self):
        return len(self.blobs)

    def __getitem__(self, i):
        with Image.open(io.BytesIO(self.blobs[i])) as image:
            return np.asarray(image)[None]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images")
    args = parser.parse_args()
    images = load_fashion_mnist()[0][:2000 if args.quick else 20000, 0]
    blobs = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        blobs.append(buffer.getvalue())
    rows = []
    for workers in (0, 1, 2):
        model = aekit.VAE(latent_dim=20, network="mlp", hidden_dims=(400,), likelihood="bernoulli", epochs=2,
                          batch_size=512, validation_fraction=0.0, patience=None, verbose=0, random_state=0,
                          device="cpu")
        start = time.perf_counter()
        model.fit(DatasetRows(PNGs(blobs), workers=workers))
        seconds = time.perf_counter() - start
        rows.append({"workers": workers, "fit_s": round(seconds, 2),
                     "samples_s": round(2 * len(blobs) / seconds)})
        print(rows[-1], flush=True)
    write_result("dataset_workers", rows, quick=args.quick, images=len(blobs), epochs=2)


if __name__ == "__main__":
    main()
