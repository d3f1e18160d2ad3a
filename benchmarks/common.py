"""What every benchmark shares: where results go and what they record about the run."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
# Debian's dataset-fashion-mnist package; AEKIT_FASHION_MNIST points elsewhere (a GPU machine
# without the package gets a copy of its four files).
FASHION_MNIST = Path(os.environ.get("AEKIT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
# The project's benchmark data (ADBench, NAB) sits beside the checkout; AEKIT_BENCH_DATA moves it.
SHARED_DATA = Path(os.environ.get("AEKIT_BENCH_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_data(name: str) -> Path:
    """``SHARED_DATA / name``, or exit with one line saying where it was looked for."""
    path = SHARED_DATA / name
    if not path.is_dir():
        sys.exit(f"{name} data not found at {path}: set AEKIT_BENCH_DATA to the folder holding it")
    return path


def machine() -> dict:
    cpu, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and cpu == "unknown":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    # Machines lent under one CPU name differ (one session's had AVX2 only, a later one's
    # AVX-512), and convolution speed with them: record which vector units this one had.
    isa = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    return {"cpu": cpu, "cpu_isa": isa, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__}


def fit_in_own_process(script: str, *args: str, env: dict | None = None) -> dict:
    """Run ``script --fit ARGS`` in a new process (so that its peak memory is its own) and
    return the JSON object it prints last."""
    done = subprocess.run([sys.executable, script, "--fit", *args], check=True, capture_output=True,
                          text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_result(name: str, rows, quick: bool, **extra) -> Path:
    """Write ``results/<name>.json`` (``<name>.quick.json`` in quick mode) atomically."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    record = {"benchmark": name, "command": "python " + " ".join(sys.argv),
              "date": datetime.date.today().isoformat(), "machine": machine(), "quick": quick,
              "rows": rows, **extra}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(path)
    print(f"wrote {path}")
    return path


def load_fashion_mnist():
    """Fashion-MNIST as uint8 (n, 1, 28, 28) arrays and labels, from Debian's package."""
    from aekit.data.idx import read_idx

    if not FASHION_MNIST.is_dir():
        sys.exit(f"Fashion-MNIST is missing at {FASHION_MNIST}: apt-get install -y dataset-fashion-mnist, "
                 "or set AEKIT_FASHION_MNIST to a folder holding its four .gz files")
    get = lambda stem: read_idx(FASHION_MNIST / f"{stem}-ubyte.gz")
    return (get("train-images-idx3"), get("train-labels-idx1"), get("t10k-images-idx3"),
            get("t10k-labels-idx1"))
