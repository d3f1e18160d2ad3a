"""Tiny generated data sets: every unit test trains in well under a second."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def vectors():
    """200 samples of 6 correlated features lying near a 2-D subspace."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 2))
    mixing = rng.normal(size=(2, 6))
    return (latent @ mixing + 0.05 * rng.normal(size=(200, 6))).astype(np.float32)


@pytest.fixture
def images():
    """120 greyscale 8x8 images: a bright bar at one of three positions, plus noise; labels."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 40)
    X = 0.1 * rng.random((120, 1, 8, 8))
    for i, label in enumerate(y):
        X[i, 0, :, 2 * label + 1:2 * label + 3] = 0.9
    return X.astype(np.float32), y


def one_line_error(capsys, code, *fragments) -> str:
    """The CLI's answer to bad input: exit status 2 and one line ``aekit: error: ...`` holding
    each of ``fragments``; returns the line."""
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("aekit: error:"), err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


def fast(**overrides):
    """Parameters that keep a fit tiny and reproducible."""
    return {"epochs": 3, "batch_size": 32, "verbose": 0, "random_state": 0, **overrides}


def interruptible() -> None:
    """``Popen(preexec_fn=interruptible)``: a child that SIGINT stops with KeyboardInterrupt, even
    when the suite itself runs as a background job (its shell ignores SIGINT for it, the children
    inherit that, and Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_at_first_checkpoint(args: list[str], out, timeout: float = 120) -> int:
    """Run ``aekit ARGS --out OUT`` and SIGKILL it as soon as its first checkpoint exists;
    returns its exit code (negative when killed; 0 if it finished first)."""
    proc = subprocess.Popen([sys.executable, "-m", "aekit", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = Path(out) / "checkpoint.safetensors"
    deadline = time.time() + timeout
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()
