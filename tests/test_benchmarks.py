"""Every benchmark's --quick mode runs end to end (slow: `make test-slow`)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
SHARED_DATA = Path(os.environ.get("AEKIT_BENCH_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data "
                                       "(or AEKIT_BENCH_DATA)")
needs_pythae = pytest.mark.skipif(importlib.util.find_spec("pythae") is None,
                                  reason="pip install -e '.[bench]'")
needs_fashion_mnist = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                         reason="apt-get install -y dataset-fashion-mnist")


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "precision", "digits_likelihood", "vae_sigma", "profile_fit", "speed_check",
    pytest.param("profile_step", marks=needs_fashion_mnist),
    pytest.param("step_ablation", marks=needs_fashion_mnist),
    pytest.param("representation", marks=needs_fashion_mnist),
    pytest.param("oneclass", marks=needs_fashion_mnist),
    pytest.param("nab", marks=needs_shared_data),
    pytest.param("false_alarms", marks=[needs_shared_data, needs_fashion_mnist]),
    pytest.param("tabular", marks=[needs_shared_data, pytest.mark.skipif(
        importlib.util.find_spec("pyod") is None, reason="pip install -e '.[bench]'")]),
    pytest.param("speed", marks=[needs_fashion_mnist, needs_pythae]),
    pytest.param("density", marks=[needs_fashion_mnist, needs_pythae]),
    pytest.param("time_to_loss", marks=[needs_fashion_mnist, needs_pythae]),
    pytest.param("ddp", marks=needs_fashion_mnist),
    pytest.param("out_of_core", marks=needs_fashion_mnist),
    pytest.param("dataset_workers", marks=needs_fashion_mnist),
    "table_stream", "conv_speed", "disentanglement",
    pytest.param("training_budget", marks=needs_fashion_mnist),
    pytest.param("explore_latency", marks=pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                                             reason="apt-get install -y chromium")),
])
def test_quick_mode(name):
    written = {"representation": "representation_conv",  # results named by network, or by size
               "training_budget": "training_budget_200", "explore_latency": "explore"}.get(name, name)
    result = BENCHMARKS / "results" / f"{written}.quick.json"
    result.unlink(missing_ok=True)  # so an old file cannot pass for this run's
    subprocess.run([sys.executable, f"{name}.py", "--quick"], cwd=BENCHMARKS, check=True,
                   capture_output=True, timeout=300)
    record = json.loads(result.read_text())
    assert record["quick"] and record["rows"]


@pytest.mark.slow
@needs_fashion_mnist
@needs_pythae
def test_the_gpu_benchmark_runs_on_the_cpu():
    """benchmarks/gpu.py's figures need a GPU; on a CPU its --device cpu mode checks the script."""
    result = BENCHMARKS / "results" / "gpu_cpu.quick.json"
    result.unlink(missing_ok=True)
    subprocess.run([sys.executable, "gpu.py", "--quick", "--device", "cpu"], cwd=BENCHMARKS, check=True,
                   capture_output=True, timeout=900)
    record = json.loads(result.read_text())
    assert {row["tool"] for row in record["rows"]} == {"plain DataLoader loop", "pythae 0.1.2", "aekit"}
    assert {row["model"] for row in record["rows"]} == {"mlp_vae", "conv_ae"}
