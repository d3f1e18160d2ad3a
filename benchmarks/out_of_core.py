"""Question: can aekit train on an array larger than memory, in flat memory, and how fast?

Fashion-MNIST's training images repeated into uint8 ``.npy`` files of 1x (about 750 MB, 0.96M
images) and 4x (3 GB, 3.84M images) that size, and one epoch of the pytorch/examples VAE
(784-400-20, batch 512; mlp_vae.py) on each, streamed from disk (``aekit.data.stream``). Each
fit runs in its own process, so its peak resident memory (``ru_maxrss``) is its own. On the 1x
file the same epoch also runs in memory, for the rate to compare with. Peak memory is VmHWM
(ru_maxrss would include the parent's pages: Linux carries it through fork and exec). The files sit in the
page cache after they are written (the machine has more memory than they need): this measures
aekit's reading, not the disk.

A folder of 50,000 PNG files (the first Fashion-MNIST images) is read the same two ways: decoded
a batch at a time (``aekit.data.images.ImageFolderRows``, two worker processes) and decoded
whole into memory first.

Targets (issue #11): peak resident memory under 1 GB and flat from 1x to 4x; a streamed rate
>= 80% of the in-memory rate on data that fits (for .npy).

    python benchmarks/out_of_core.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common import fit_in_own_process, load_fashion_mnist, write_result


def fit_once(path: str, streamed: bool) -> dict:
    """One epoch in this process; returns seconds (reading included) and peak resident memory."""
    import aekit
    from aekit.data.images import ImageFolderRows, read_image_folder
    from aekit.data.stream import DiskArray

    start = time.perf_counter()
    if Path(path).is_dir():
        X = ImageFolderRows(path, workers=2) if streamed else read_image_folder(Path(path)).X
    else:
        X = DiskArray.open(path) if streamed else np.load(path)
    model = aekit.VAE(latent_dim=20, network="mlp", hidden_dims=(400,), likelihood="bernoulli",
                      epochs=1, batch_size=512, validation_fraction=0.0, patience=None, verbose=0,
                      random_state=0, device="cpu")
    model.fit(X)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(X), "peak_rss_mb": peak_resident_mb()}


def peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over from
    the parent through fork and exec, so a child would report the parent's mapped file."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60,000 and 240,000 images")
    parser.add_argument("--fit", nargs=2, help=argparse.SUPPRESS)  # internal: PATH streamed|memory
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_once(args.fit[0], args.fit[1] == "streamed")))
        return
    images = load_fashion_mnist()[0].reshape(-1, 784)
    base = 1 if args.quick else 16  # copies of the 60,000 images in the 1x file
    rows = []
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        for scale in (1, 4):
            path = Path(tmp) / f"x{scale}.npy"
            out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                            shape=(len(images) * base * scale, 784))
            for i in range(base * scale):
                out[i * len(images):(i + 1) * len(images)] = images
            out.flush()
            del out
            for how in (("streamed", "memory") if scale == 1 else ("streamed",)):
                result = fit_in_own_process(__file__, str(path), how)
                row = {"data": f"{scale}x", "file_gb": round(path.stat().st_size / 1e9, 2), "read": how,
                       "images": result["rows"], "epoch_s": round(result["seconds"], 1),
                       "samples_s": round(result["rows"] / result["seconds"]),
                       "peak_rss_mb": round(result["peak_rss_mb"])}
                rows.append(row)
                print(row, flush=True)
            path.unlink()
        folder = Path(tmp) / "png"
        count = 5000 if args.quick else 50000
        for i in range(count):
            if i % 1000 == 0:
                (folder / f"{i // 1000:03d}").mkdir(parents=True)
            Image.fromarray(images[i].reshape(28, 28)).save(folder / f"{i // 1000:03d}" / f"{i}.png")
        for how in ("streamed", "memory"):
            result = fit_in_own_process(__file__, str(folder), how)
            rows.append({"data": f"{count:,} PNG files", "file_gb": None, "read": how,
                         "images": result["rows"], "epoch_s": round(result["seconds"], 1),
                         "samples_s": round(result["rows"] / result["seconds"]),
                         "peak_rss_mb": round(result["peak_rss_mb"])})
            print(rows[-1], flush=True)
    for row in rows:  # against the in-memory read of the same kind of source
        same_kind = [r for r in rows if (r["file_gb"] is None) == (row["file_gb"] is None)]
        memory = next(r for r in same_kind if r["read"] == "memory")
        row["vs_in_memory"] = round(row["samples_s"] / memory["samples_s"], 2)
    write_result("out_of_core", rows, quick=args.quick, model="784-400-20 VAE, batch 512, 1 epoch")


if __name__ == "__main__":
    main()
