"""The output policy and the newer surfaces' promises (docs/files.md): links are never followed
out of a folder aekit owns, a replaced folder is never missing, trust is decided over every
field that names code, and each bad input a user can reach is one line."""

import json
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import aekit
from aekit.cli import main
from conftest import fast, one_line_error


@pytest.fixture
def fitted(vectors):
    return aekit.AutoEncoder(**fast()).fit(vectors)


@pytest.fixture
def table(tmp_path, vectors):
    path = tmp_path / "table.csv"
    pd.DataFrame(vectors, columns=[f"f{i}" for i in range(vectors.shape[1])]).to_csv(path, index=False)
    return path


def _train(data, out, *extra):
    return main(["train", "--data", str(data), "--model", "ae", "--epochs", "1", "--latent-dim", "2",
                 "--out", str(out), "--quiet", *extra])


# ---------------------------------------------------------------- links and replaced folders
def test_tensorboard_logs_are_never_written_or_deleted_through_a_link(table, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    theirs = tmp_path / "their_logs"
    theirs.mkdir()
    (theirs / "events.out.tfevents.123.host").write_bytes(b"their events")
    run = tmp_path / "run"
    assert _train(table, run) == 0
    (run / "tensorboard").symlink_to(theirs)
    code = _train(table, run, "--log", "tensorboard")
    one_line_error(capsys, code, "tensorboard", "is a symbolic link")
    assert [p.name for p in theirs.iterdir()] == ["events.out.tfevents.123.host"]
    assert (theirs / "events.out.tfevents.123.host").read_bytes() == b"their events"


def test_a_model_link_in_the_run_is_refused_before_training(table, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(table, run) == 0
    elsewhere = tmp_path / "elsewhere"
    (run / "model").rename(elsewhere)
    (run / "model").symlink_to(elsewhere)
    (run / "checkpoint.safetensors").unlink()
    code = _train(table, run)
    one_line_error(capsys, code, "model", "link")
    assert not (run / "checkpoint.safetensors").exists()  # refused before any epoch ran


def test_an_out_link_to_a_folder_is_named_a_link(table, tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    code = _train(table, tmp_path / "link")
    one_line_error(capsys, code, "is a symbolic link")


_KILL_AFTER = textwrap.dedent("""
    import os, sys, numpy as np, aekit
    from aekit import _atomic
    X = np.random.default_rng(1).normal(size=(60, 4)).astype("float32")
    model = aekit.AutoEncoder(latent_dim=2, epochs=1, verbose=0, random_state=1).fit(X)
    real_exchange, real_replace = _atomic.exchange, os.replace
    if sys.argv[2] == "swap":      # killed right after the one-step swap
        def exchange(a, b):
            real_exchange(a, b)
            os._exit(9)
        _atomic.exchange = exchange
    else:                          # a system that cannot swap: killed between its two renames
        _atomic.exchange = lambda a, b: False
        def replace(a, b):
            real_replace(a, b)
            os._exit(9)
        _atomic.os.replace = replace
    model.save(sys.argv[1])
""")


@pytest.mark.parametrize("how", ["swap", "two_renames"])
def test_a_save_killed_mid_replacement_leaves_a_complete_model(fitted, vectors, tmp_path, how):
    path = tmp_path / "model"
    fitted.save(path)
    done = subprocess.run([sys.executable, "-c", _KILL_AFTER, str(path), how], capture_output=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr
    loaded = aekit.load(path)  # the new model (swapped in) or the old one (put back): complete
    expected = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    if how == "swap":
        assert loaded.input_shape_ == (4,)  # the new one
        assert len(expected) == 1  # the old one, left in a temporary of the killed writer...
        fitted.save(path)
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # ...cleaned by the next
    else:
        np.testing.assert_array_equal(loaded.transform(vectors), fitted.transform(vectors))
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_reader_never_finds_the_model_missing_while_it_is_replaced(fitted, tmp_path):
    path = tmp_path / "model"
    fitted.save(path)
    missing, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            if not (path / "config.json").is_file():
                missing.append(time.monotonic())

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for _ in range(30):
            fitted.save(path)
    finally:
        stop.set()
        reader.join()
    assert missing == []


def test_a_lock_held_by_another_program_is_not_blamed_on_aekit(table, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(table, run) == 0  # the marker now names this (finished) process
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(run / ".aekit")!r}, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = _train(table, run)
    finally:
        holder.kill()
        holder.wait()
    line = one_line_error(capsys, code, f"another process (PID {holder.pid})")
    assert "aekit process" not in line


# ---------------------------------------------------------------- trust
def test_code_named_only_in_the_parameters_needs_trust_code(fitted, tmp_path, monkeypatch):
    """A config whose parameters name factories while its fitted network is an MLP: refused
    without trust_code, so no later fit or clone can import them."""
    from aekit._jsonio import digest

    marker = tmp_path / "imported"
    module = tmp_path / "evil_factories.py"
    module.write_text(f"open({str(marker)!r}, 'w').close()\ndef enc(**k): pass\ndef dec(**k): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = tmp_path / "m"
    fitted.save(folder)
    config = json.loads((folder / "config.json").read_text())
    config["params"]["network"] = {"encoder": "evil_factories:enc", "decoder": "evil_factories:dec",
                                   "options": {}}
    config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(aekit.UntrustedCodeError, match="evil_factories"):
        aekit.load(folder)
    with pytest.raises(aekit.ModelFileError, match="differ"):  # and trusted, it is still inconsistent
        aekit.load(folder, trust_code=True)
    assert not marker.exists()


# ---------------------------------------------------------------- checkpoints and weights
def _checkpoint_run(table, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(table), "--model", "ae", "--epochs", "2", "--latent-dim", "2",
                 "--out", str(run), "--quiet"]) == 0
    return run


def _rewrite_checkpoint(path, edit):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from aekit.checkpoint import tensor_digest

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    edit(tensors)
    header = json.loads(meta["aekit"])
    header["tensors_sha256"] = tensor_digest(tensors)
    save_file(tensors, str(path), metadata={"aekit": json.dumps(header)})


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.update({"rng.torch": torch.randint(0, 255, t["rng.torch"].shape, dtype=torch.uint8)}),
     "not a random generator's state"),
    (lambda t: next(v for k, v in t.items() if k.startswith("model.")).fill_(float("nan")),
     "hold NaN or infinite values"),
])
def test_a_damaged_checkpoint_is_refused_before_anything_is_restored(table, tmp_path, capsys, edit,
                                                                     fragment):
    run = _checkpoint_run(table, tmp_path)
    model_before = (run / "model" / "model.safetensors").read_bytes()
    _rewrite_checkpoint(run / "checkpoint.safetensors", edit)
    code = main(["train", "--data", str(table), "--model", "ae", "--epochs", "2", "--latent-dim", "2",
                 "--out", str(run), "--quiet", "--resume"])
    one_line_error(capsys, code, fragment)
    assert (run / "model" / "model.safetensors").read_bytes() == model_before


def test_a_model_whose_weights_hold_nan_is_refused_at_load(fitted, tmp_path):
    from safetensors.torch import load_file, save_file

    from aekit._jsonio import digest
    from aekit.persistence import _sha256

    folder = tmp_path / "m"
    fitted.save(folder)
    tensors = load_file(str(folder / "model.safetensors"))
    next(iter(tensors.values())).fill_(float("nan"))
    save_file(tensors, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = _sha256(folder / "model.safetensors")
    config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(aekit.ModelFileError, match="NaN or infinite values"):
        aekit.load(folder)


# ---------------------------------------------------------------- run folders read back
def test_a_broken_metrics_json_is_one_line_naming_it(table, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(table, run) == 0
    (run / "metrics.json").write_text("{broken")
    code = main(["export", str(run), "--out", str(tmp_path / "x")])
    one_line_error(capsys, code, "metrics.json", "not valid JSON")


def test_a_run_folder_finds_its_data_from_any_working_directory(vectors, tmp_path, monkeypatch):
    from aekit import verbs

    work = tmp_path / "work"
    work.mkdir()
    pd.DataFrame(vectors, columns=list("abcdef")).to_csv(work / "data.csv", index=False)
    monkeypatch.chdir(work)
    assert _train("data.csv", "run") == 0
    assert json.loads((work / "run" / "metrics.json").read_text())["source"] == str(work / "data.csv")
    monkeypatch.chdir(tmp_path)
    explorer = verbs.explore.explorer(model=work / "run")
    assert explorer.n_rows == len(vectors)


def test_export_to_an_empty_out_is_an_error(fitted, tmp_path, capsys, monkeypatch):
    fitted.save(tmp_path / "m")
    monkeypatch.chdir(tmp_path)
    code = main(["export", str(tmp_path / "m"), "--out", ""])
    one_line_error(capsys, code, "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_explore_port_out_of_range_is_one_line(port, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["explore", "nowhere", "--port", port])
    assert caught.value.code == 2
    assert "port" in capsys.readouterr().err


def test_explore_of_one_point_is_one_line(table, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(table, run) == 0
    with pytest.raises(SystemExit) as caught:
        main(["explore", str(run), "--max-points", "1"])
    assert caught.value.code == 2 and "--max-points" in capsys.readouterr().err


# ---------------------------------------------------------------- inputs read as meant
def test_a_semicolon_csv_is_read_by_its_separator(vectors, tmp_path):
    path = tmp_path / "excel.csv"
    pd.DataFrame(vectors, columns=list("abcdef")).to_csv(path, index=False, sep=";")
    data = aekit.data.load(path)
    assert data.feature_names == list("abcdef")
    np.testing.assert_allclose(data.X, vectors, rtol=1e-6)


def test_a_timestamp_cell_that_is_not_a_date_is_one_line(tmp_path, capsys):
    stamps = pd.date_range("2026-01-01", periods=50, freq="min").astype(str).tolist()
    stamps[20] = "not a time"
    pd.DataFrame({"timestamp": stamps, "v": np.sin(np.arange(50))}).to_csv(tmp_path / "s.csv", index=False)
    code = main(["train", "--data", str(tmp_path / "s.csv"), "--window", "8", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"])
    one_line_error(capsys, code, "timestamp column 'timestamp'", "line 22", "'not a time'")


@pytest.mark.parametrize("write, fragment", [
    (lambda p: p.write_bytes(bytes([0, 0, 0x08, 3]) + (2).to_bytes(4, "big") + (0).to_bytes(4, "big")
                             + (5).to_bytes(4, "big")), "dimension of size 0"),
    (lambda p: p.write_bytes(bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])),
     "holds labels or values, not samples"),
])
def test_odd_idx_files_are_one_line(tmp_path, capsys, write, fragment):
    path = tmp_path / "odd-idx3-ubyte"
    write(path)
    code = main(["train", "--data", str(path), "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"])
    one_line_error(capsys, code, fragment)


def test_an_image_rewritten_during_a_streamed_run_is_refused(tmp_path):
    from aekit.data.images import ImageFolderRows

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    rows = ImageFolderRows(folder)
    assert rows[0:4].shape == (4, 1, 8, 8)
    time.sleep(0.01)
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(folder / "2.png")  # same size, new pixels
    with pytest.raises(aekit.InvalidInputError, match="2.png changed after it was first read"):
        rows[0:4]


def test_memory_follows_the_output_size_not_the_files(tmp_path):
    """Ten 3000x3000 PNGs read at 8x8: at most one is ever held decoded (measured by the peak
    of traced allocations, which Pillow's decoder buffers do not pass through, so by the
    decoded images Python holds: a list of ten would be ten times one)."""
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(10):
        Image.new("RGB", (3000, 3000), (i, 2 * i, 3 * i)).save(folder / f"{i}.png")
    script = textwrap.dedent(f"""
        import resource, aekit
        data = aekit.data.load({str(folder)!r}, size=(8, 8))
        assert data.X.shape == (10, 3, 8, 8)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    peak_kb = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                 check=True, timeout=300).stdout.strip())
    one_image_mb = 3000 * 3000 * 4 / 2**20  # RGBX as Pillow holds it: 34 MB
    baseline = int(subprocess.run([sys.executable, "-c", "import resource, aekit\nprint(resource.getrusage("
                                   "resource.RUSAGE_SELF).ru_maxrss)"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    assert (peak_kb - baseline) / 1024 < 4 * one_image_mb  # ten at once would be > 340 MB


