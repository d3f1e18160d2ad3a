"""The ``aekit`` command as users run it: a real process, real files."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit.cli import main
from conftest import kill_at_first_checkpoint

RUN_FILES = {".aekit", "model", "metrics.json", "loss_curve.png", "reconstructions.png", "latent_map.png",
             "checkpoint.safetensors"}


def _aekit(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "aekit.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def npz(tmp_path, images):
    X, y = images
    path = tmp_path / "bars.npz"
    np.savez(path, X=X, y=y)
    return path


@pytest.mark.parametrize("model", ["ae", "dae", "vae", "cvae"])
def test_train_writes_a_complete_run_folder(model, npz, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(npz), "--model", model, "--epochs", "3", "--latent-dim", "2",
                 "--out", str(out), "--quiet"]) == 0
    expected = RUN_FILES | ({"samples.png"} if model in ("vae", "cvae") else set())
    assert {p.name for p in out.iterdir()} == expected
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and np.isfinite(metrics["reconstruction_mse"])
    for png in metrics["figures"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model_ = aekit.load(out / "model")
    assert model_.transform(np.load(npz)["X"]).shape == (120, 2)


@pytest.mark.parametrize("args, message", [
    (["--data", "no/such/file.npy"], "no data at 'no/such/file.npy'"),
    (["--data", "{bad}"], "unsupported format"),
    (["--model", "cvae", "--data", "{unlabelled}"], "needs labels"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(args, message, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("hello")
    unlabelled = tmp_path / "x.npy"
    np.save(unlabelled, np.zeros((10, 4), np.float32))
    args = [a.replace("{bad}", str(bad)).replace("{unlabelled}", str(unlabelled)) for a in args]
    result = _aekit("train", *args, "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aekit: error:") and message in lines[0]
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_nan_data_fails_cleanly(tmp_path):
    path = tmp_path / "nan.npy"
    X = np.ones((20, 3), np.float32)
    X[4, 1] = np.nan
    np.save(path, X)
    result = _aekit("train", "--data", str(path), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2 and "NaN" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, npz):
    args = ["train", "--data", str(npz), "--model", "vae", "--epochs", "40", "--latent-dim", "2",
            "--quiet", "--seed", "3"]
    assert _aekit(*args, "--out", str(tmp_path / "whole")).returncode == 0

    out = tmp_path / "killed"
    returncode = kill_at_first_checkpoint(args, out)
    assert not (out / "metrics.json").exists() or returncode == 0
    assert _aekit(*args, "--out", str(out), "--resume").returncode == 0
    whole = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    resumed = load_file(str(out / "model" / "model.safetensors"))
    assert all(np.array_equal(whole[k].numpy(), resumed[k].numpy()) for k in whole)


def _train(tmp_path, *args):
    out = tmp_path / "run"
    code = main(["train", *args, "--epochs", "1", "--latent-dim", "2", "--out", str(out), "--quiet"])
    return code, out


def test_train_on_an_image_folder(tmp_path):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            image = Image.fromarray(np.full((12, 10, 3), 40 * i, np.uint8))
            image.save(tmp_path / "imgs" / label / f"{i}.png")
    code, out = _train(tmp_path, "--data", str(tmp_path / "imgs"), "--model", "cvae", "--size", "16")
    assert code == 0 and aekit.load(out / "model").input_shape_ == (3, 16, 16)


def test_train_on_windows_of_a_time_series(tmp_path):
    import pandas as pd

    stamps = pd.date_range("2024-01-01", periods=300, freq="min")
    pd.DataFrame({"timestamp": stamps, "value": np.sin(np.arange(300) / 10)}).to_csv(tmp_path / "m.csv",
                                                                                       index=False)
    code, out = _train(tmp_path, "--data", str(tmp_path / "m.csv"), "--window", "32", "--model", "ae")
    metrics = json.loads((out / "metrics.json").read_text())
    assert code == 0 and metrics["sample_shape"] == [32] and metrics["data_options"]["window"] == 32


def test_train_on_a_parquet_table_with_labels(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame({"f1": rng.normal(size=80), "f2": rng.normal(size=80),
                  "y": np.repeat(["u", "v"], 40)}).to_parquet(tmp_path / "table.parquet")
    code, out = _train(tmp_path, "--data", str(tmp_path / "table.parquet"), "--label-column", "y")
    assert code == 0 and aekit.load(out / "model").input_shape_ == (2,)


def test_train_on_shapes(tmp_path):
    code, out = _train(tmp_path, "--data", "shapes", "--count", "200", "--size", "16")
    assert code == 0 and json.loads((out / "metrics.json").read_text())["sample_shape"] == [1, 16, 16]


def test_a_table_with_text_fails_in_one_line(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,oops\n" + "5,6\n" * 20)
    result = _aekit("train", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "column 'b', row 1 (line 3 of the file): 'oops'" in result.stderr


@pytest.mark.parametrize("model, preset", [("ae", aekit.AutoEncoder), ("dae", aekit.DenoisingAutoEncoder),
                                           ("vae", aekit.VAE), ("cvae", aekit.ConditionalVAE)])
def test_aekit_train_and_the_python_preset_train_identical_weights_by_default(model, preset, tmp_path):
    """One source of truth for defaults: `aekit train` with only a seed is the preset with only
    a random_state, on the same table."""
    import pandas as pd

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(160, 5)) @ rng.normal(size=(5, 5)), columns=list("abcde"))
    table["kind"] = rng.integers(0, 2, size=len(table))
    table.to_csv(tmp_path / "table.csv", index=False)
    assert main(["train", "--model", model, "--data", str(tmp_path / "table.csv"), "--label-column", "kind",
                 "--seed", "3", "--quiet", "--out", str(tmp_path / "run")]) == 0
    features = pd.read_csv(tmp_path / "table.csv")
    labels = features.pop("kind").to_numpy()
    python = preset(random_state=3, verbose=0).fit(features, labels if model == "cvae" else None)
    cli = load_file(tmp_path / "run" / "model" / "model.safetensors")
    weights = python.model_.state_dict()
    assert set(cli) == set(weights)
    for name, tensor in weights.items():
        assert torch.equal(cli[name], tensor), name


def test_the_cli_defaults_are_the_librarys():
    from aekit.cli import build_parser

    args = build_parser().parse_args(["train"])
    vae, dae = aekit.VAE(), aekit.DenoisingAutoEncoder()
    assert (args.batch_size, args.lr, args.latent_dim, args.epochs, args.beta, args.network,
            args.likelihood) == (vae.batch_size, vae.learning_rate, vae.latent_dim, vae.epochs, vae.beta,
                                 vae.network, vae.likelihood)
    assert (args.corruption, args.corruption_level, args.mask_mode, args.patch_size) == \
        (dae.corruption, dae.corruption_level, dae.mask_mode, dae.patch_size)
    detect = build_parser().parse_args(["detect", "--model", "m"])
    assert detect.contamination == aekit.AnomalyDetector().contamination


def test_version_names_aekit_torch_and_python(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"aekit {aekit.__version__} (torch {torch.__version__}, Python ")
    assert aekit.__version__ != "0+unknown"  # read from the installed package's metadata


def test_every_option_with_a_default_says_it_in_its_help():
    import argparse

    from aekit.cli import verb_parsers

    for name, parser in verb_parsers().items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in formatter._get_help_string(action), (name, action.option_strings)
