"""Every benchmark's --quick mode runs end to end (slow: `make test-slow`)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
ADBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"
needs_fashion_mnist = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                         reason="apt-get install -y dataset-fashion-mnist")


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "precision", "digits_likelihood", "vae_sigma",
    pytest.param("profile_step", marks=needs_fashion_mnist),
    pytest.param("representation", marks=needs_fashion_mnist),
    pytest.param("tabular", marks=[pytest.mark.skipif(not ADBENCH.is_dir(), reason="needs ../shared/data"),
                                   pytest.mark.skipif(importlib.util.find_spec("pyod") is None,
                                                      reason="pip install -e '.[bench]'")]),
    pytest.param("speed", marks=[needs_fashion_mnist, pytest.mark.skipif(
        importlib.util.find_spec("pythae") is None, reason="pip install -e '.[bench]'")]),
])
def test_quick_mode(name):
    subprocess.run([sys.executable, f"{name}.py", "--quick"], cwd=BENCHMARKS, check=True,
                   capture_output=True, timeout=300)
    written = {"representation": "representation_conv"}.get(name, name)  # results are named by network
    record = json.loads((BENCHMARKS / "results" / f"{written}.quick.json").read_text())
    assert record["quick"] and record["rows"]
