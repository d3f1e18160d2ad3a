"""What aekit promises about your files (docs/files.md), one test per promise: nothing of yours
is replaced, a run folder has one writer, what is read back is verified, inputs are read as meant,
and bad input is one line and exit status 2."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import aekit
from aekit.cli import main
from aekit.data import load
from conftest import fast, one_line_error


def _aekit(*args, timeout=120, **kwargs):
    return subprocess.run([sys.executable, "-m", "aekit.cli", *args], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.fixture
def fitted(vectors):
    return aekit.AutoEncoder(**fast()).fit(vectors)


@pytest.fixture
def bars(tmp_path, images):
    X, y = images
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    return tmp_path / "bars.npz"


def _train(data, out, *extra):
    return main(["train", "--data", str(data), "--epochs", "2", "--latent-dim", "2", "--out", str(out),
                 "--quiet", *extra])


# ---------------------------------------------------------------- 1. save never removes yours
def test_save_refuses_a_folder_that_is_not_an_aekit_model(fitted, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(aekit.OutputError, match="not an aekit model"):
        fitted.save(mine)
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # nothing moved aside or left behind


def test_save_refuses_a_regular_file_and_hides_nothing(fitted, tmp_path):
    target = tmp_path / "model"
    target.write_text("a file of yours")
    with pytest.raises(aekit.OutputError, match="it is a file"):
        fitted.save(target)
    assert target.read_text() == "a file of yours"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with pytest.raises(aekit.OutputError, match="model path is empty"):
        fitted.save("")  # not the working directory


def test_save_replaces_its_own_model_folder_but_not_one_holding_your_files(fitted, vectors, tmp_path):
    fitted.save(tmp_path / "m")
    other = aekit.AutoEncoder(**fast(random_state=1)).fit(vectors)
    other.save(tmp_path / "m")  # an aekit model folder: replaced as a whole
    assert np.array_equal(aekit.load(tmp_path / "m").transform(vectors), other.transform(vectors))
    (tmp_path / "m" / "README").write_text("notes")
    with pytest.raises(aekit.OutputError):
        fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "README").read_text() == "notes"


# ---------------------------------------------------------------- 2. train --out
def test_train_refuses_an_out_folder_holding_your_files(bars, tmp_path, capsys):
    out = tmp_path / "project"
    (out / "model").mkdir(parents=True)
    (out / "model" / "weights.h5").write_text("another tool's model")
    code = _train(bars, out)
    one_line_error(capsys, code, "holds files that aekit did not write")
    assert (out / "model" / "weights.h5").read_text() == "another tool's model"
    assert sorted(p.name for p in out.rglob("*")) == ["model", "weights.h5"]


def test_an_empty_out_path_is_an_error_not_the_working_directory(bars, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("mine")
    one_line_error(capsys, _train(bars, ""), "output path is empty")
    assert (tmp_path / "model" / "keep.txt").read_text() == "mine"


def test_retraining_in_its_own_run_folder_replaces_the_run(bars, tmp_path):
    out = tmp_path / "run"
    assert _train(bars, out) == 0
    first = (out / "model" / "config.json").read_text()
    assert _train(bars, out, "--seed", "5") == 0
    assert (out / "model" / "config.json").read_text() != first


def test_a_verb_never_takes_a_run_folder_for_its_output_folder(bars, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    capsys.readouterr()
    code = main(["encode", "--model", str(run), "--data", str(bars), "--out", str(run)])
    one_line_error(capsys, code, "is a run folder, not a verb's output folder")
    assert aekit.load(run / "model").latent_dim == 2 and (run / "metrics.json").exists()
    assert main(["encode", "--model", str(run), "--data", str(bars)]) == 0
    one_line_error(capsys, _train(bars, run / "encode"), "is a verb's output folder, not a run folder")


# ---------------------------------------------------------------- 3. one writer per run folder
def test_a_second_run_on_the_same_folder_fails_at_once_naming_the_first(bars, tmp_path):
    from aekit.runs import RunFolder

    out = tmp_path / "run"
    with RunFolder(out).writing():  # this test process is the first writer
        started = time.perf_counter()
        result = _aekit("train", "--data", str(bars), "--epochs", "2", "--out", str(out), "--quiet")
        assert time.perf_counter() - started < 60
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"being written by another aekit process (PID {os.getpid()})" in result.stderr
    assert not (out / "metrics.json").exists() and not (out / "model").exists()
    assert _train(bars, out) == 0  # the lock is released with its holder


def test_two_concurrent_trainings_never_leave_a_mixed_folder(bars, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", str(bars), "--epochs", "30", "--latent-dim", "2", "--out", str(out), "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-m", "aekit.cli", *args, "--seed", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [(p.wait(timeout=180), p.stderr.read()) for p in procs]
    winners = [i for i, (code, _) in enumerate(results) if code == 0]
    assert len(winners) >= 1
    for code, err in results:
        assert code == 0 or "being written by another aekit process" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_sha256"] == aekit.persistence.model_digest(out / "model")


# ---------------------------------------------------------------- 4. images read as meant
def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63,000
    Image.fromarray(ramp).save(folder / "a.png")
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(folder / "b.png")
    assert Image.open(folder / "a.png").mode.startswith("I")
    X = load(folder).X
    assert X.dtype == np.float32 and X.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(X[0, 0], ramp / 65535, atol=1e-6)
    assert len(np.unique(X[0])) == 64 and X[1].max() == 1.0


def test_transparency_is_handled_as_the_alpha_option_says(tmp_path):
    folder = tmp_path / "icons"
    folder.mkdir()
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red where opaque
    rgba[:2, :, 3] = 255  # top half opaque, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(folder / "icon.png")
    composite = load(folder).X[0]
    assert composite.shape == (3, 4, 4)
    assert (composite[:, 2:] == 255).all() and composite[0, :2].tolist() == [[200] * 4] * 2
    dropped = load(folder, alpha="drop").X[0]
    assert (dropped[0] == 200).all() and (dropped[1:] == 0).all()
    kept = load(folder, alpha="keep").X[0]
    assert kept.shape == (4, 4, 4) and kept[3, :2].min() == 255 and kept[3, 2:].max() == 0


def test_a_decompression_bomb_is_one_line_with_or_without_skip_bad(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("1", (15000, 15000)).save(folder / "bomb.png")  # 225 Mpx, a few kB on disk
    for i in range(3):
        Image.new("L", (8, 8), 9 * i).save(folder / f"ok{i}.png")
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, _train(folder, "r1"), "bomb.png", "--skip-bad")
    assert _train(folder, "r2", "--skip-bad", "--model", "ae") == 0
    assert "skipped 1 unreadable image(s) of 4" in capsys.readouterr().err


# ---------------------------------------------------------------- 5. what is read back is verified
def test_an_edited_config_is_refused(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    config["fitted"]["preprocessing"]["shift"][0] += 0.5
    path.write_text(json.dumps(config, indent=2))
    with pytest.raises(aekit.ModelFileError, match="does not match its own checksum"):
        aekit.load(tmp_path / "m")


def test_no_checkpoint_path_is_saved_cloned_or_reused(bars, tmp_path):
    from sklearn.base import clone

    out = tmp_path / "run"
    assert _train(bars, out) == 0
    config = json.loads((out / "model" / "config.json").read_text())
    assert "checkpoint_path" not in config["params"]
    before = (out / "checkpoint.safetensors").read_bytes()
    loaded = aekit.load(out / "model")
    X = np.load(bars)["X"]
    clone(loaded).fit(X)
    aekit.AnomalyDetector(loaded, random_state=0).fit(X)
    assert (out / "checkpoint.safetensors").read_bytes() == before


def _with_checksum(config):
    from aekit._jsonio import digest

    config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    return config


def test_a_hostile_config_fails_before_allocating(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    config["params"]["latent_dim"] = config["fitted"]["model"]["latent_dim"] = 2_000_000
    path.write_text(json.dumps(_with_checksum(config)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(aekit.ModelFileError):
        aekit.load(tmp_path / "m")
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: < 200 MB


@pytest.mark.parametrize("content, match", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"a":' * 40 + "1" + "}" * 40, "nested more than"),
    ("[1, 2]", "holds a JSON list"),
])
def test_malformed_config_json_is_one_clear_error(fitted, tmp_path, content, match):
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(content)
    with pytest.raises(aekit.ModelFileError, match=match):
        aekit.load(tmp_path / "m")


def test_an_oversized_config_is_refused_without_reading_it(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    with open(tmp_path / "m" / "config.json", "r+b") as f:
        f.truncate(65 << 20)  # sparse: 65 MiB by size, nothing on disk
    with pytest.raises(aekit.ModelFileError, match="more than aekit ever writes"):
        aekit.load(tmp_path / "m")


# ---------------------------------------------------------------- 7. checkpoints
@pytest.fixture
def killed_run(vectors, tmp_path):
    """A checkpoint after 3 of 6 epochs, as a killed run leaves it."""
    path = tmp_path / "ckpt.safetensors"
    aekit.VAE(**fast(epochs=3)).fit(vectors, checkpoint_path=path)
    return path


def _resume(vectors, path):
    return aekit.VAE(**fast(epochs=3)).fit(vectors, checkpoint_path=path, resume=True)


def _rewrite(path, header_edit=None, tensor_edit=None):
    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()["aekit"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if header_edit:
        header_edit(header)
    if tensor_edit:
        tensor_edit(tensors)
    save_file(tensors, str(path), metadata={"aekit": json.dumps(header)})


def test_a_flipped_byte_in_a_checkpoint_is_refused(vectors, killed_run):
    data = bytearray(killed_run.read_bytes())
    data[-100] ^= 0x10  # a bit of the last tensor's data
    killed_run.write_bytes(bytes(data))
    with pytest.raises(aekit.ModelFileError, match="damaged: its tensors do not match the checksum"):
        _resume(vectors, killed_run)


@pytest.mark.parametrize("edit, match", [
    (lambda h: h["state"].update(epoch=10**9), "epoch 1000000000 is not between 1 and"),
    (lambda h: h["state"].update(global_step=3), "does not match 3 epochs"),
    (lambda h: h["state"].pop("history"), "exactly the fields"),
    (lambda h: h["state"]["history"]["train_loss"].append(1.0), "one entry per epoch"),
    (lambda h: h["state"]["history"].update(lr="fast"), "must be a list of finite numbers"),
    (lambda h: h["state"].update(precision="fp8"), "precision fp32 or bf16"),
    (lambda h: h["state"].update(bad_epochs=-1), "bad_epochs"),
    (lambda h: h.update(format_version=1), "not an aekit checkpoint of format 2"),
])
def test_a_corrupt_but_well_formed_checkpoint_header_is_refused(vectors, killed_run, edit, match):
    _rewrite(killed_run, header_edit=edit)
    with pytest.raises(aekit.ModelFileError, match=match):
        _resume(vectors, killed_run)


def _recheck(tensors):
    from aekit.checkpoint import tensor_digest

    return tensor_digest(tensors)


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.pop("rng.torch"), "'rng.torch' is missing"),
    (lambda t: t.update({"model.encoder.body.0.weight": t["model.encoder.body.0.weight"][:, :3].clone()}),
     "this run needs"),
    (lambda t: t.update({"extra": t["rng.torch"].clone()}), "does not have"),
    (lambda t: t.pop("optim.0.exp_avg"), "'optim.0.exp_avg' is missing"),
])
def test_checkpoint_tensors_are_checked_one_by_one(vectors, killed_run, edit, match):
    holder = {}
    _rewrite(killed_run, tensor_edit=lambda t: (edit(t), holder.update(sha=_recheck(t))))
    _rewrite(killed_run, header_edit=lambda h: h.update(tensors_sha256=holder["sha"]))
    with pytest.raises(aekit.ModelFileError, match=match):
        _resume(vectors, killed_run)


def test_resume_notices_ten_edited_rows_of_three_thousand(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    path = tmp_path / "ckpt.safetensors"
    aekit.AutoEncoder(**fast(epochs=1)).fit(X, checkpoint_path=path)
    edited = X.copy()
    edited[1000:1010] += 1.0
    with pytest.raises(aekit.ModelFileError, match="other settings or data"):
        aekit.AutoEncoder(**fast(epochs=1)).fit(edited, checkpoint_path=path, resume=True)


# ---------------------------------------------------------------- 8. one line and exit 2
def test_a_full_disk_while_writing_weights_is_one_line(bars, tmp_path):
    """A real write failure: the file-size limit makes write() fail with EFBIG, as a full disk
    fails with ENOSPC; the run folder keeps no torn file."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))

    out = tmp_path / "run"
    result = _aekit("train", "--data", str(bars), "--model", "vae", "--network", "mlp", "--epochs", "1",
                    "--out", str(out), "--quiet", preexec_fn=limit)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aekit: error: cannot write") and "larger than" in lines[0]
    assert not (out / "metrics.json").exists()
    assert not [p for p in out.rglob("*") if ".aekit-" in p.name]  # no temporary left behind


@pytest.mark.parametrize("args, fragment", [
    (["train", "--data", "shapes", "--count", "1000000000", "--out", "{tmp}/r"], "would need about"),
    (["train", "--data", "shapes", "--size", "30000", "--count", "100", "--out", "{tmp}/r"],
     "would need about"),
    (["sample", "--model", "{run}", "--n", "1000000000", "--out", "{tmp}/s"], "would need about"),
    (["density", "--model", "{run}", "--k", "1000000000", "--data", "{bars}", "--out", "{tmp}/d"],
     "would need about"),
])
def test_impossible_sizes_are_refused_before_allocating(args, fragment, bars, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    capsys.readouterr()
    args = [a.format(tmp=tmp_path, run=run, bars=bars) for a in args]
    one_line_error(capsys, main(args), fragment)


def _two_small_images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        Image.new("L", (8, 8), i).save(folder / f"{i}.png")
    return folder


def test_an_image_folder_resized_to_an_impossible_size_is_refused(tmp_path, capsys, monkeypatch):
    # 2 images at 30000x30000 need ~29 GiB to decode: more than 16 GiB, whatever this machine has.
    monkeypatch.setattr("aekit._memory.available_bytes", lambda: 16 << 30)
    folder = _two_small_images(tmp_path)
    one_line_error(capsys, main(["train", "--data", str(folder), "--size", "30000x30000",
                                  "--out", str(tmp_path / "r")]), "would need about")


def test_images_too_large_for_the_networks_weights_are_refused_before_building_it(tmp_path, capsys,
                                                                                    monkeypatch):
    # 4000x4000 images decode in 32 MB, but the conv net's dense layers would hold ~8 billion
    # weights (122 GiB to train on the CPU): refused in one line, with no run folder left behind.
    monkeypatch.setattr("aekit._memory.available_bytes", lambda: 16 << 30)
    folder = _two_small_images(tmp_path)
    one_line_error(capsys, main(["train", "--data", str(folder), "--size", "4000x4000",
                                  "--out", str(tmp_path / "r")]), "weights", "would need about")
    assert not (tmp_path / "r").exists()
    with pytest.raises(aekit.InvalidInputError, match=r"[\d,]{13} weights for samples of shape 1x4000x4000"):
        aekit.AutoEncoder(network="conv", **fast()).fit(np.zeros((2, 1, 4000, 4000), np.uint8))


@pytest.mark.parametrize("content, fragment", [
    ("[1, 2, 3]", "holds a JSON list"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
])
def test_report_with_a_broken_summary_is_one_line(bars, tmp_path, capsys, content, fragment):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    assert main(["encode", "--model", str(run), "--data", str(bars)]) == 0
    (run / "encode" / "encode.json").write_text(content)
    capsys.readouterr()
    one_line_error(capsys, main(["report", str(run)]), "encode.json", fragment)
    (run / "metrics.json").write_text(content)
    one_line_error(capsys, main(["report", str(run)]), "metrics.json", fragment)


# ---------------------------------------------------------------- 9. no work thrown away
def test_one_row_is_refused_before_anything_is_written(tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.ones((1, 4), np.float32))
    one_line_error(capsys, _train(tmp_path / "one.npy", tmp_path / "run"), "1 sample")
    assert not (tmp_path / "run").exists()


def test_encode_of_one_row_and_tsne_of_few_rows_degrade_and_say_so(bars, tmp_path):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    X = np.load(bars)["X"]
    np.save(tmp_path / "one.npy", X[:1])
    assert main(["encode", "--model", str(run), "--data", str(tmp_path / "one.npy")]) == 0
    summary = json.loads((run / "encode" / "encode.json").read_text())
    assert "latent_map.png" in summary["figures_skipped"] and (run / "encode" / "codes.parquet").exists()
    np.save(tmp_path / "ten.npy", X[:10])
    assert _train(bars, tmp_path / "run3", "--latent-dim", "3") == 0  # 3-D codes: the map is a projection
    assert main(["encode", "--model", str(tmp_path / "run3"), "--data", str(tmp_path / "ten.npy"),
                 "--projection", "tsne", "--out", str(tmp_path / "tsne")]) == 0
    summary = json.loads((tmp_path / "tsne" / "encode.json").read_text())
    assert summary["projection"].startswith("PCA (t-SNE needs") and summary["figures"] == ["latent_map.png"]


@pytest.mark.parametrize("label", [0, 1])
def test_detect_with_labels_of_one_kind_completes_without_roc(tmp_path, label):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "anomaly": label}).to_csv(tmp_path / "t.csv",
                                                                                       index=False)
    run = tmp_path / "run"
    assert _train(tmp_path / "t.csv", run, "--label-column", "anomaly", "--model", "ae") == 0
    assert main(["detect", "--model", str(run), "--data", str(tmp_path / "t.csv"),
                 "--label-column", "anomaly"]) == 0
    summary = json.loads((run / "detect" / "detect.json").read_text())
    assert "roc_pr.png" in summary["figures_skipped"] and "auroc" not in summary
    assert len(pd.read_csv(run / "detect" / "scores.csv")) == 80


def test_a_failed_verb_leaves_the_previous_outputs_whole(bars, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    assert main(["detect", "--model", str(run), "--data", str(bars)]) == 0
    before = {p.name: p.read_bytes() for p in (run / "detect").iterdir()}
    code = main(["detect", "--model", str(run), "--data", str(bars), "--anomaly-label", "nope"])
    one_line_error(capsys, code, "no input has the label 'nope'")
    assert {p.name: p.read_bytes() for p in (run / "detect").iterdir()} == before


# ---------------------------------------------------------------- 10. inputs read as meant
def _table(path, columns, X):
    pd.DataFrame(X, columns=columns).to_csv(path, index=False)


def test_columns_are_matched_by_name_after_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)) * [1, 10, 100]
    _table(tmp_path / "train.csv", ["a", "b", "c"], X)
    _table(tmp_path / "shuffled.csv", ["c", "a", "b"], X[:, [2, 0, 1]])
    run = tmp_path / "run"
    assert _train(tmp_path / "train.csv", run, "--model", "ae") == 0
    for name, out in (("train.csv", "e1"), ("shuffled.csv", "e2")):
        assert main(["encode", "--model", str(run), "--data", str(tmp_path / name), "--format", "npy",
                     "--out", str(tmp_path / out)]) == 0
    assert np.array_equal(np.load(tmp_path / "e1" / "codes.npy"), np.load(tmp_path / "e2" / "codes.npy"))
    model = aekit.load(run / "model")
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    with pytest.raises(aekit.InvalidInputError, match="feature names"):
        model.transform(pd.read_csv(tmp_path / "shuffled.csv"))
    _table(tmp_path / "fewer.csv", ["a", "b"], X[:, :2])
    assert main(["encode", "--model", str(run), "--data", str(tmp_path / "fewer.csv")]) == 2


def test_a_date_column_is_not_a_feature(tmp_path):
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=20, freq="h"), "v": np.arange(20.0)})
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(aekit.InvalidInputError, match="column 'when' holds dates"):
        load(tmp_path / "t.parquet")
    assert load(tmp_path / "t.parquet", id_column="when").X.shape == (20, 1)


def test_an_npz_without_X_is_not_guessed(tmp_path):
    np.savez(tmp_path / "a.npz", ids=np.arange(10), features=np.ones((10, 3)))
    with pytest.raises(aekit.InvalidInputError, match=r"no array 'X'.*\['ids', 'features'\].*--array"):
        load(tmp_path / "a.npz")
    assert load(tmp_path / "a.npz", array="features").X.shape == (10, 3)


def test_time_order_is_checked(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=40, freq="min")
    values = np.sin(np.arange(40.0))
    order = np.r_[20:40, 0:20]  # two halves swapped: not a clock adjustment
    pd.DataFrame({"timestamp": stamps[order], "value": values[order]}).to_csv(tmp_path / "s.csv",
                                                                               index=False)
    with pytest.raises(aekit.InvalidInputError, match=r"not in time order \(1 of 39 steps.*time-order sort"):
        load(tmp_path / "s.csv", window=8)
    ds = load(tmp_path / "s.csv", window=8, time_order="sort")
    np.testing.assert_allclose(ds.windows.values[:, 0], values, rtol=1e-6)
    kept = load(tmp_path / "s.csv", window=8, time_order="file")
    np.testing.assert_allclose(kept.windows.values[:, 0], values[order], rtol=1e-6)
    pd.DataFrame({"timestamp": stamps[[0, 1, 1, 2]], "value": [1.0, 2, 3, 4]}).to_csv(tmp_path / "d.csv",
                                                                                       index=False)
    with pytest.raises(aekit.InvalidInputError,
                       match=r"row 2 \(line 4 of the file\) has timestamp 2024-01-01 00:01:00, not after"):
        load(tmp_path / "d.csv", window=2)


def test_a_clock_set_back_keeps_the_files_order_and_says_so(tmp_path):
    """As in NAB's machine_temperature: daylight saving repeats an hour; the file's order is the
    true one, and sorting would interleave the two hours."""
    stamps = pd.date_range("2024-10-27 00:00", periods=300, freq="5min")
    repeated = np.r_[stamps[:36], stamps[24:36], stamps[36:]][:300]  # 02:00-02:55 twice
    values = np.arange(300.0)
    pd.DataFrame({"timestamp": repeated, "value": values}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.warns(UserWarning, match="1 of 299 rows do not come after.*windows follow the file's order"):
        ds = load(tmp_path / "m.csv", window=16)
    np.testing.assert_allclose(ds.windows.values[:, 0], values)
    with pytest.raises(aekit.InvalidInputError, match="not in time order"):
        load(tmp_path / "m.csv", window=16, time_order="error")


def test_a_damaged_file_in_the_data_cache_is_refused(tmp_path, monkeypatch):
    import hashlib

    from aekit.data import named
    from test_data import idx_bytes

    raw = {stem: idx_bytes(np.zeros((2, 4, 4) if "images" in stem else 2, np.uint8)) for stem in named.STEMS}
    digests = named._digests("sha256-raw", *(hashlib.sha256(raw[s]).hexdigest() for s in named.STEMS))
    monkeypatch.setitem(named.NAMED_SETS, "cached", named.NamedSet(("http://127.0.0.1:9/",), digests))
    folder = tmp_path / "cache" / "cached"
    folder.mkdir(parents=True)
    for stem, data in raw.items():
        (folder / stem).write_bytes(data)
    assert len(named.load_named("cached", cache=tmp_path / "cache", system_dir=tmp_path / "none")) == 2
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.ones(2, np.uint8)))
    with pytest.raises(aekit.InvalidInputError, match="checksum mismatch"):
        named.load_named("cached", cache=tmp_path / "cache", system_dir=tmp_path / "none")


def test_repeated_csv_headers_are_refused(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,a\n1,2,3\n4,5,6\n")
    with pytest.raises(aekit.InvalidInputError, match=r"names the column\(s\) \['a'\] more than once"):
        load(tmp_path / "t.csv")


# ---------------------------------------------------------------- 11. smaller
def test_weights_are_ordinary_files_under_the_umask(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert os.stat(tmp_path / "m" / name).st_mode & 0o777 == 0o666 & ~umask


def test_temporaries_of_a_killed_writer_are_cleaned_and_a_live_ones_kept(fitted, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".m.aekit-{dead}-0a0b0c0d.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    live = tmp_path / f".m.aekit-{os.getppid()}-0a0b0c0d.tmp"
    live.mkdir()
    fitted.save(tmp_path / "m")
    assert not stale.exists() and live.exists()


def test_report_hides_outputs_of_an_earlier_model(bars, tmp_path):
    run = tmp_path / "run"
    assert _train(bars, run) == 0
    assert main(["encode", "--model", str(run), "--data", str(bars)]) == 0
    assert main(["report", str(run)]) == 0
    assert "encode/latent_map.png" in (run / "report.html").read_text()
    assert _train(bars, run, "--seed", "9") == 0  # retrained: encode/ now describes an earlier model
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "encode/latent_map.png" not in page and "earlier model (encode)" in page


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.with_suffix(".csv").write_text("a,b\n1,2\n1e300,3\n"), "beyond the range of 32-bit floats"),
    (lambda p: np.save(p.with_suffix(".npy"), np.ones((4, 2), np.complex64)), "complex64"),
    (lambda p: p.with_name("x-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + b"\xff" * 12),
     "the header promises"),
])
def test_messages_name_the_file(tmp_path, make, fragment):
    base = tmp_path / "data"
    make(base)
    path = next(p for p in tmp_path.iterdir())
    with pytest.raises(aekit.InvalidInputError, match=fragment) as info:
        load(path)
    assert str(path) in str(info.value)
