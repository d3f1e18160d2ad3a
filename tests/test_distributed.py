"""Training on several processes (torchrun, DistributedDataParallel): real torchrun runs of two
processes on the CPU (gloo), compared with one process. The figures of agreement and speed are
in benchmarks/ddp.py."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import aekit
from aekit.cli import main

sys.path.insert(0, str(Path(__file__).parent))
import ddp_worker  # noqa: E402

HERE = Path(__file__).parent


def torchrun(*args, cwd, **popen):
    """``torchrun --standalone --nproc-per-node=2 ARGS`` (torch's own launcher, as users start it);
    one thread per process, as two processes share this machine's cores."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *args]
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=env, **popen)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def assert_close(a: dict, b: dict, atol: float):
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst <= atol, f"weights differ by up to {worst}"


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    done = torchrun(str(HERE / "ddp_worker.py"), str(out), cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_two_processes_train_the_weights_one_process_trains(two_process_run, tmp_path):
    weights, report = ddp_worker.run(tmp_path)  # the same fits, in this one process
    for rank in ("0", "1"):
        ranked = load_file(str(two_process_run / f"weights.{rank}.safetensors"))
        assert_close(ranked, weights, atol=1e-6)
        theirs = json.loads((two_process_run / f"report.{rank}.json").read_text())
        for name in ddp_worker.MODELS:
            assert theirs[name]["processes"] == 2 and report[name]["processes"] == 1
            np.testing.assert_allclose(theirs[name]["val_loss"], report[name]["val_loss"], rtol=1e-6)
        # A diverging run stops both processes at the step where one process stops.
        assert theirs["divergence"] is not None
        texts = (theirs["divergence"], report["divergence"])
        where = [text.split(" (")[0].split(" at ")[1] for text in texts]
        assert where[0] == where[1]  # "epoch E, step S"
    rank0, rank1 = (load_file(str(two_process_run / f"weights.{r}.safetensors")) for r in "01")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)  # the processes never drift apart


def test_a_two_process_checkpoint_resumes_on_one_process(two_process_run):
    """What a 2-process run killed after epoch 2 left, finished by one process: the weights of an
    uninterrupted run."""
    resumed = ddp_worker.resumable_fit(resume_from=two_process_run / "epoch2.safetensors")
    uninterrupted = aekit.VAE(**{**ddp_worker.COMMON, "epochs": 5}).fit(ddp_worker.data()[0])
    assert resumed.n_iter_ == 5
    assert_close(resumed.model_.state_dict(), uninterrupted.model_.state_dict(), atol=1e-5)
    two = load_file(str(two_process_run / "weights.0.safetensors"))
    assert_close({k: two[f"resumable.{k}"] for k in resumed.model_.state_dict()},
                 resumed.model_.state_dict(), atol=1e-5)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from the parent PIDs in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited while we looked
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _checkpoint_epoch(path: Path) -> int:
    with safe_open(str(path), "pt") as f:
        return json.loads(f.metadata()["aekit"])["state"]["epoch"]


@pytest.mark.slow  # 26 s; resuming is tested on one process (test_cli), two-process training here
def test_torchrun_train_killed_then_resumed_writes_one_complete_run_folder(tmp_path):
    args = ["-m", "aekit", "train", "--data", "digits", "--device", "cpu", "--epochs", "6", "--quiet",
            "--out", str(tmp_path / "run"), "--logger", "tensorboard"]
    run = torchrun(*args, cwd=tmp_path,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in [run.pid, *_descendants(run.pid)]:  # torchrun and its workers (in their own sessions)
        os.kill(pid, signal.SIGKILL)
    run.wait()
    assert checkpoint.exists() and not (tmp_path / "run" / "metrics.json").exists()
    assert 1 <= _checkpoint_epoch(checkpoint) < 6

    resumed = torchrun(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert main(["train", "--data", "digits", "--device", "cpu", "--epochs", "6", "--quiet",
                 "--out", str(tmp_path / "one")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["process_group_backend"] == "gloo"
    assert metrics["epochs_run"] == 6
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert one["processes"] == 1
    np.testing.assert_allclose(metrics["best_val_loss"], one["best_val_loss"], rtol=1e-4)
    # The same model up to the order of floating-point sums, which Adam amplifies (NOTES.md,
    # "Several processes"): 6.4e-3 apart for the channels-last conv VAE after 6 epochs.
    assert_close(load_file(str(tmp_path / "run" / "model" / "model.safetensors")),
                 load_file(str(tmp_path / "one" / "model" / "model.safetensors")), atol=2e-2)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert not list(tmp_path.glob("run/*.tmp")) and not list(tmp_path.glob("run/.*.tmp"))


def test_other_verbs_refuse_to_run_under_torchrun(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["encode", "--model", str(tmp_path), "--data", "digits", "--out", str(tmp_path / "e")]) == 2
    assert "only train runs under torchrun" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_every_train_option_reaches_aekit_through_torchrun():
    """torchrun's argument parser takes any abbreviation of its own options, wherever it stands
    (``--log`` would be its ``--log-dir``): every option of ``train`` but ``--log`` must pass
    through it to aekit, and ``--logger`` is ``--log``'s name under torchrun."""
    from torch.distributed.run import get_args_parser

    from aekit.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = [flag for action in train._actions for flag in action.option_strings
             if flag.startswith("--") and flag not in ("--help", "--log")]
    assert "--logger" in flags and "--device" in flags
    for flag in flags:
        parsed = get_args_parser().parse_args(["--nproc-per-node=2", "-m", "aekit", "train", flag, "1"])
        assert flag in parsed.training_script_args, f"torchrun takes {flag} for one of its own options"
