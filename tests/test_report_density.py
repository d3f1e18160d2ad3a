"""Density, uncertainty and the HTML report."""

import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import aekit
from aekit.cli import main
from aekit.tasks.density import bits_per_dim, code_uncertainty
from conftest import fast


def test_bits_per_dim_for_binary_and_8_bit_data():
    rng = np.random.default_rng(0)
    binary = (rng.random((200, 16)) > 0.5).astype(np.float32)
    vae = aekit.VAE(latent_dim=2, **fast(epochs=2)).fit(binary)
    assert vae.model_.config.likelihood == "bernoulli"
    log_px = vae.log_likelihood(binary[:20], k=20)
    np.testing.assert_allclose(bits_per_dim(vae, log_px), -log_px / (16 * math.log(2)))
    grey = rng.integers(0, 256, (200, 16), dtype=np.uint8)
    vae8 = aekit.VAE(latent_dim=2, **fast(epochs=2)).fit(grey)
    log_px = vae8.log_likelihood(grey[:100], k=20)
    bpd = bits_per_dim(vae8, log_px)
    np.testing.assert_allclose(bpd, (-log_px + 16 * math.log(255)) / (16 * math.log(2)))
    # uniform 8-bit noise has an entropy of exactly 8 bits: no model's cross-entropy is lower
    assert bpd.mean() > 7.9
    tabular = aekit.VAE(latent_dim=2, **fast(epochs=2)).fit(rng.normal(size=(100, 4)))
    assert bits_per_dim(tabular, np.zeros(3)) is None  # a standardised density has no bits per dim


def test_uncertainty_is_large_for_codes_far_from_their_class(images):
    X, y = images
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=30, learning_rate=3e-3)).fit(X)
    odd = X[:1].copy()
    odd[0, 0, :, :] = X[80, 0]  # looks like class 2 but is labelled 0
    uncertainty, _ = code_uncertainty(ae, np.concatenate([X, odd]), np.r_[y, 0])
    assert uncertainty[-1] > np.quantile(uncertainty[:-1], 0.95)
    unlabelled, groups = code_uncertainty(ae, X, n_clusters=3)
    assert len(np.unique(groups)) == 3 and unlabelled.shape == (120,)


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_report_shows_every_figure_of_the_run_and_its_verbs(tmp_path, images):
    X, y = images
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    run = tmp_path / "run"
    data = ["--data", str(tmp_path / "bars.npz")]
    assert main(["train", *data, "--epochs", "3", "--latent-dim", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["density", "--model", str(run), *data, "--k", "20"]) == 0  # default out: RUN/density
    assert main(["detect", "--model", str(run), *data]) == 0
    summary = json.loads((run / "density" / "density.json").read_text())
    assert np.isfinite(summary["mean_log_px_nats"]) and summary["k"] == 20
    table = pd.read_csv(run / "density" / "density.csv")
    assert list(table.columns) == ["id", "label", "log_px", "uncertainty"] and len(table) == 120
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    parser = _Images()
    parser.feed(page)
    expected = {"loss_curve.png", "reconstructions.png", "samples.png", "latent_map.png",
                "density/uncertainty.png", "detect/most_anomalous.png"}
    assert expected <= set(parser.sources)
    assert all((run / src).is_file() for src in parser.sources)
    assert re.search(r"<th>best_val_loss</th><td>-?[0-9.]+", page) and "mean_log_px_nats" in page


def test_report_needs_a_complete_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.json is missing" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["density"])
def test_verbs_on_a_model_folder_write_under_runs(tmp_path, images, monkeypatch, verb):
    X, y = images
    ae = aekit.VAE(latent_dim=2, **fast()).fit(X)
    ae.save(tmp_path / "m")
    np.save(tmp_path / "x.npy", X)
    monkeypatch.chdir(tmp_path)
    assert main([verb, "--model", "m", "--data", "x.npy", "--k", "5"]) == 0
    assert (tmp_path / "runs" / verb / f"{verb}.json").is_file()
