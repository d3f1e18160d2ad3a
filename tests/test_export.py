"""ONNX export: every graph gives what aekit gives, run by onnxruntime alone."""

import json

import numpy as np
import pytest

import aekit
from aekit.cli import main as cli
from aekit.errors import OutputError, UnsupportedOperationError

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extras (aekit[onnx])")
RNG = np.random.default_rng(0)


def run(folder, graph: str, **feeds):
    session = ort.InferenceSession(str(folder / f"{graph}.onnx"))
    return session.run(None, {k: np.asarray(v, np.float32) for k, v in feeds.items()})


def score_feeds(manifest: dict, x) -> dict:
    feeds = {"x": x}
    if "noise" in manifest["detector"]:
        feeds["noise"] = manifest["detector"]["noise"]
    return feeds


@pytest.fixture(scope="module")
def table():
    return (RNG.normal(size=(240, 5)) * [1, 2, 3, 4, 5] + 10).astype(np.float32)


@pytest.mark.parametrize("preset", [aekit.VAE, aekit.AutoEncoder])
def test_a_table_detector_scores_encodes_and_decodes_as_aekit_does_for_any_batch(tmp_path, table, preset):
    detector = aekit.AnomalyDetector(preset(latent_dim=2, epochs=2, verbose=0), random_state=0).fit(table)
    manifest = aekit.export_onnx(detector, tmp_path / "onnx")
    folder = tmp_path / "onnx"
    assert manifest == json.loads((folder / "aekit-onnx.json").read_text())
    assert manifest["detector"]["n_neighbors"] == 5  # the neighbour distance is in the graph too
    model = detector.model_
    for n in (1, 7):  # the batch axis is dynamic
        x = (RNG.normal(size=(n, 5)) * 4 + 10).astype(np.float32)
        score, contributions = run(folder, "score", **score_feeds(manifest, x))
        np.testing.assert_allclose(score, detector.anomaly_score(x), rtol=1e-4, atol=1e-4)
        # the explanation too: each column's part of the score, the neighbour distance's included
        np.testing.assert_allclose(contributions, detector.explain(x).contributions, rtol=1e-3, atol=1e-3)
        codes = run(folder, "encoder", x=x)
        np.testing.assert_allclose(codes[0], model.transform(x), rtol=1e-4, atol=1e-5)
        assert len(codes) == (2 if preset is aekit.VAE else 1)  # a VAE's std too
        (decoded,) = run(folder, "decoder", z=codes[0])
        np.testing.assert_allclose(decoded, model.inverse_transform(codes[0]), rtol=1e-4, atol=1e-4)
    assert manifest["detector"]["threshold"] == detector.threshold_


def test_an_image_detector_exports_its_relative_score(tmp_path):
    images = RNG.integers(0, 255, size=(120, 1, 8, 8)).astype(np.uint8)
    model = aekit.VAE(network="resnet", latent_dim=2, epochs=1, verbose=0, random_state=0)
    detector = aekit.AnomalyDetector(model, random_state=0).fit(images)
    manifest = aekit.export_onnx(detector, tmp_path)
    assert manifest["detector"]["score"] == "relative"
    score, contributions = run(tmp_path, "score", x=images[:4])
    np.testing.assert_allclose(score, detector.anomaly_score(images[:4]), rtol=1e-4)
    assert contributions.shape == (4, 1, 8, 8)
    np.testing.assert_allclose(contributions, detector.explain(images[:4]).contributions,
                               rtol=1e-3, atol=1e-5)
    (decoded,) = run(tmp_path, "decoder", z=RNG.normal(size=(3, 2)))
    assert decoded.shape == (3, 1, 8, 8)


def test_a_stream_detector_of_two_channel_windows_exports_its_window_score(tmp_path):
    t = np.arange(600)
    series = np.stack([np.sin(t / 7), np.cos(t / 5)], axis=1).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(series, 16, axis=0)  # (n, 2, 16)
    # On the CPU, as the exported graph runs: a GPU's convolutions (TF32) differ by ~2e-4.
    model = aekit.AutoEncoder(network="temporal", latent_dim=3, epochs=1, verbose=0, random_state=0,
                              device="cpu")
    watch = aekit.StreamDetector(model.fit(windows), series)
    manifest = aekit.export_onnx(watch, tmp_path)
    assert manifest["stream"]["window"] == 16 and manifest["stream"]["channels"] == 2
    assert len(manifest["stream"]["initial_scores"]) == len(windows)
    score, contributions = run(tmp_path, "score", x=windows[-5:])
    np.testing.assert_allclose(score, watch.detector_.anomaly_score(windows[-5:]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(contributions, watch.detector_.explain(windows[-5:]).contributions,
                               rtol=1e-3, atol=1e-4)
    # The stream's score: the error of each window's newest sixth (2 of 16 rows), in the graph too.
    assert manifest["stream"]["newest_rows"] == 2
    errors = watch.model.reconstruction_error(windows[-5:], per_dim=True)
    np.testing.assert_allclose(score, errors[:, :, -2:].sum(axis=(1, 2)), rtol=1e-4, atol=1e-4)
    assert (contributions[:, :, :-2] == 0).all()


def test_a_stream_exports_its_model_and_distribution_as_they_are_after_continual_learning(tmp_path):
    series = np.sin(np.arange(700) / 7).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(series[:300], 16)
    model = aekit.AutoEncoder(latent_dim=3, epochs=2, verbose=0, random_state=0).fit(windows)
    with aekit.StreamDetector(model, series[:300], refit_every=150, refit_steps=5) as watch:
        watch.update_many(series[300:])
    assert [r["row"] for r in watch.refits_] == [300] and watch.model is not model
    manifest = aekit.export_onnx(watch, tmp_path)
    np.testing.assert_array_equal(manifest["stream"]["initial_scores"], watch.running_.scores)
    score, _ = run(tmp_path, "score", x=windows[-5:])  # the fine-tuned model's score, not the original's
    np.testing.assert_allclose(score, watch.detector_.anomaly_score(windows[-5:]), rtol=1e-4, atol=1e-4)
    assert not np.allclose(score, aekit.AnomalyDetector.from_fitted(model, windows, n_neighbors=None)
                           .anomaly_score(windows[-5:]), rtol=1e-4, atol=1e-4)


def test_what_cannot_be_exported_is_refused_and_a_foreign_folder_is_kept(tmp_path, table):
    labels = np.arange(len(table)) % 2
    conditional = aekit.ConditionalVAE(latent_dim=2, epochs=1, verbose=0).fit(table, labels)
    with pytest.raises(UnsupportedOperationError, match="conditional"):
        aekit.export_onnx(conditional, tmp_path / "a")
    model = aekit.AutoEncoder(latent_dim=2, epochs=1, verbose=0).fit(table)
    density = aekit.AnomalyDetector.from_fitted(model, table, code_density=True)
    with pytest.raises(UnsupportedOperationError, match="code_density"):
        aekit.export_onnx(density, tmp_path / "b")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="refusing"):
        aekit.export_onnx(model, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    aekit.export_onnx(model, tmp_path / "c")
    aekit.export_onnx(model, tmp_path / "c")  # an earlier export is replaced
    assert not (tmp_path / "a").exists() and sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "aekit-onnx.json", "decoder.onnx", "encoder.onnx"]


def test_the_cli_exports_a_window_run_with_the_detector_watch_would_run(tmp_path, capsys):
    t = np.arange(400)
    csv = tmp_path / "healthy.csv"
    csv.write_text("timestamp,value\n" + "".join(f"{i},{np.sin(i / 6):.5f}\n" for i in t))
    assert cli(["train", "--data", str(csv), "--window", "12", "--stride", "1", "--epochs", "1",
                "--network", "mlp", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert cli(["export", str(tmp_path / "run")]) == 0
    assert "calibrated on" in capsys.readouterr().out
    folder = tmp_path / "run" / "export"
    manifest = json.loads((folder / "aekit-onnx.json").read_text())
    assert manifest["stream"]["window"] == 12
    watch = aekit.StreamDetector(aekit.load(tmp_path / "run" / "model"), np.sin(t / 6)[:, None])
    window = np.sin(np.arange(400, 412) / 6).astype(np.float32)[None]
    score, _ = run(folder, "score", **score_feeds(manifest, window))
    np.testing.assert_allclose(score, watch.detector_.anomaly_score(window), rtol=1e-3, atol=1e-3)
    assert cli(["export", str(tmp_path / "run" / "model"), "--out", str(tmp_path / "bare")]) == 0
    assert "no detector" in capsys.readouterr().out
