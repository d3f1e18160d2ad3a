"""Anomaly detection: trained on normal data only, scored on planted anomalies."""

import json

import numpy as np
import pandas as pd
import pytest

import aekit
from aekit.cli import main
from aekit.detectors import detection_metrics, total_variation
from conftest import fast


@pytest.fixture
def planted():
    """Normal rows near a 3-D subspace of 12-D; anomalies off it, at the same overall scale."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    normal = (rng.normal(size=(900, 3)) * [3, 2, 1]) @ basis[:, :3].T + 0.05 * rng.normal(size=(900, 12))
    odd = (rng.normal(size=(60, 3)) * [3, 2, 1]) @ basis[:, :3].T + 1.0 * rng.normal(size=(60, 12)) @ \
        basis[:, 3:6] @ basis[:, 3:6].T
    train, test_normal = normal[:600], normal[600:]
    X_test = np.vstack([test_normal, odd]).astype(np.float32)
    return train.astype(np.float32), X_test, np.r_[np.zeros(300), np.ones(60)]


@pytest.mark.parametrize("model, score", [
    (aekit.AutoEncoder(latent_dim=3, **fast(epochs=60, learning_rate=3e-3)), "auto"),
    (aekit.VAE(latent_dim=3, **fast(epochs=60, learning_rate=3e-3)), "auto"),
    (aekit.VAE(latent_dim=3, **fast(epochs=60, learning_rate=3e-3)), "elbo"),
])
def test_planted_anomalies_are_found(planted, model, score):
    train, X_test, truth = planted
    detector = aekit.AnomalyDetector(model, score=score, random_state=0).fit(train)
    metrics = detection_metrics(detector.anomaly_score(X_test), truth)
    assert metrics["auroc"] >= 0.95 and metrics["average_precision"] >= 0.8
    predicted = detector.predict(X_test)
    assert set(np.unique(predicted)) <= {-1, 1}
    assert (predicted[truth == 1] == -1).mean() > 0.8 and (predicted[truth == 0] == 1).mean() > 0.9
    np.testing.assert_allclose(detector.decision_function(X_test),
                               detector.score_samples(X_test) - detector.offset_)


def test_threshold_flags_about_the_contamination_rate_of_new_normal_data(planted):
    train, X_test, truth = planted
    ae = aekit.AutoEncoder(latent_dim=3, **fast(epochs=40, learning_rate=3e-3)).fit(train)
    detector = aekit.AnomalyDetector.from_fitted(ae, train, contamination=0.1)
    # The normal rows' neighbour distances leave each row out, so new normal rows (which have
    # no copy of themselves among the reference rows) are flagged at the same rate.
    assert detector.n_neighbors_ == 5
    assert abs((detector.predict(X_test[truth == 0]) == -1).mean() - 0.1) < 0.05


def test_neighbour_distance_finds_anomalies_that_lie_on_the_manifold():
    """Normal rows on a ring in a plane of 8-D; anomalies in the ring's hole, on the same plane.
    The model rebuilds the plane; the hole's neighbourhood of normal rows is empty."""
    rng = np.random.default_rng(0)
    plane = np.linalg.qr(rng.normal(size=(8, 8)))[0][:, :2]

    def on_plane(radius):
        angle = rng.uniform(0, 2 * np.pi, len(radius))
        xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        return (xy @ plane.T + 0.02 * rng.normal(size=(len(radius), 8))).astype(np.float32)

    normal = on_plane(rng.uniform(2, 3, 800))
    X_test = np.vstack([normal[600:], on_plane(rng.uniform(0, 0.8, 40))])
    truth = np.r_[np.zeros(200), np.ones(40)]
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=2, **fast(epochs=30)),
                                     random_state=0).fit(normal[:600])
    model_only = aekit.AnomalyDetector.from_fitted(detector.model_, normal[:600], n_neighbors=None)
    assert len(detector.standardise_) == 2 and len(model_only.standardise_) == 1
    with_neighbours = detection_metrics(detector.anomaly_score(X_test), truth)["auroc"]
    assert with_neighbours > 0.98
    assert with_neighbours > detection_metrics(model_only.anomaly_score(X_test), truth)["auroc"] + 0.05


def test_neighbour_distances_of_normal_rows_leave_the_row_itself_out():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    X[1] = X[0]  # a duplicate still counts as a neighbour
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=2)).fit(X)
    detector = aekit.AnomalyDetector.from_fitted(ae, X, n_neighbors=3, calibration_rows=np.arange(len(X)))
    Z = detector.preprocessed(X)
    distances = cdist(Z, Z)
    np.fill_diagonal(distances, np.inf)
    third = np.sort(distances, axis=1)[:, 2]
    assert detector.standardise_[1] == pytest.approx((third.mean(), third.std()), rel=1e-4)
    # New inputs (here copies of normal rows) are compared with every reference row.
    scored = detector._raw_scores(X[:5])[1]
    np.testing.assert_allclose(scored, np.sort(cdist(Z[:5], Z), axis=1)[:, 2], rtol=1e-4, atol=1e-6)


def test_neighbour_count_must_leave_neighbours_to_count(planted):
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=2)).fit(planted[0])
    with pytest.raises(aekit.InvalidInputError, match="n_neighbors=5 needs more than 5 normal samples"):
        aekit.AnomalyDetector.from_fitted(ae, planted[0][:5], n_neighbors=5)
    assert aekit.AnomalyDetector.from_fitted(ae, planted[0][:5]).n_neighbors_ == 4  # "auto" adapts


def test_images_are_scored_without_neighbour_distances():
    X = np.random.default_rng(0).random((40, 1, 6, 6)).astype(np.float32)
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=2)).fit(X)
    detector = aekit.AnomalyDetector.from_fitted(ae, X)
    assert detector.n_neighbors_ is None and len(detector.standardise_) == 1


def test_code_density_is_combined_with_reconstruction(planted):
    train, X_test, truth = planted
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=3, **fast(epochs=40)), code_density=True,
                                     random_state=0).fit(train)
    assert detector.density_ is not None and len(detector.standardise_) == 3  # model, neighbours, codes
    assert detection_metrics(detector.anomaly_score(X_test), truth)["auroc"] > 0.9


def test_likelihood_scores_need_a_variational_model(planted):
    with pytest.raises(aekit.UnsupportedOperationError, match="variational"):
        aekit.AnomalyDetector(aekit.AutoEncoder(**fast()), score="elbo").fit(planted[0])


def test_error_maps_locate_a_planted_defect():
    rng = np.random.default_rng(0)
    X = (0.1 * rng.random((300, 1, 12, 12))).astype(np.float32)
    X[:, :, 4:8, 4:8] = 0.8  # every normal image has the same bright square
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=4, **fast(epochs=30, learning_rate=3e-3)),
                                     random_state=0).fit(X)
    defect = X[:1].copy()
    defect[0, 0, 0:3, 9:12] = 1.0  # a bright blob in the top-right corner
    error = detector.error_maps(defect)[0, 0]
    assert np.unravel_index(np.argmax(error), error.shape)[0] < 3
    assert error[0:3, 9:12].mean() > 10 * np.median(error)


def test_detect_verb_on_a_labelled_table(tmp_path, planted):
    train, X_test, truth = planted
    cols = [f"f{i}" for i in range(12)]
    pd.DataFrame(train, columns=cols).to_csv(tmp_path / "normal.csv", index=False)
    frame = pd.DataFrame(X_test, columns=cols)
    frame["is_anomaly"], frame["id"] = truth.astype(int), [f"row{i}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "test.csv", index=False)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "normal.csv"), "--model", "ae", "--latent-dim", "3",
                 "--epochs", "60", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "detect"
    assert main(["detect", "--model", str(run), "--data", str(tmp_path / "test.csv"), "--label-column",
                 "is_anomaly", "--id-column", "id", "--normal-data", str(tmp_path / "normal.csv"),
                 "--out", str(out)]) == 1 - 1
    summary = json.loads((out / "detect.json").read_text())
    assert summary["auroc"] > 0.95
    assert set(summary["figures"]) == {"most_anomalous.png", "contributions.png", "roc_pr.png"}
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert list(scores.columns) == ["id", "label", "score", "p_value", "surprise", "flagged",
                                    "top_contributors"]
    assert scores["id"][0] == "row0"
    # every flagged row names the columns its score comes from, by the table's names; no other row does
    named = scores["top_contributors"] != ""
    assert (named == scores["flagged"]).all() and named.any()
    assert all(text.split(" ")[0] in cols for text in scores["top_contributors"][named])
    flagged = (out / "flagged_ids.txt").read_text().split()
    assert len(flagged) == summary["n_flagged"] and all(f.startswith("row") for f in flagged)


def test_detect_verb_on_windows_and_images(tmp_path):
    t = np.arange(2000)
    values = np.sin(t / 20) + 0.05 * np.random.default_rng(0).normal(size=2000)
    values[1500:1530] += 3  # a planted fault
    stamps = pd.date_range("2024-01-01", periods=2000, freq="min")
    pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(tmp_path / "m.csv", index=False)
    window = ["--window", "40", "--stride", "10"]
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "m.csv"), *window, "--model", "ae", "--latent-dim", "3",
                 "--epochs", "40", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "detect"
    assert main(["detect", "--model", str(run), "--data", str(tmp_path / "m.csv"), *window,
                 "--contamination", "0.02", "--out", str(out)]) == 0
    summary = json.loads((out / "detect.json").read_text())
    assert "timeseries.png" in summary["figures"] and summary["flagged_spans"]
    assert "contributions.png" in summary["figures"]
    first, last = (pd.Timestamp(v) for v in summary["flagged_spans"][0])
    assert first <= stamps[1529] and last >= stamps[1500]  # the fault lies in a flagged span
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)
    # "value 100% (t-3)": the one channel, and where in the window it contributes most
    assert scores["top_contributors"][scores["flagged"]].str.match(r"^value 100% \(t-\d+\)$").all()


def test_total_variation_sums_neighbour_differences():
    image = np.zeros((1, 1, 3, 3), np.float32)
    image[0, 0, 1, 1] = 2.0  # four neighbours differ by 2
    np.testing.assert_allclose(total_variation(image), [8.0])
    np.testing.assert_allclose(total_variation(np.ones((2, 4, 4))), [0.0, 0.0])


def detailed_and_plain(rng, n, texture):
    """12x12 images: a bright square at a random place plus a random-amplitude checkerboard."""
    X = np.zeros((n, 1, 12, 12), np.float32)
    for i, (r, c) in enumerate(rng.integers(1, 6, size=(n, 2))):
        X[i, 0, r:r + 6, c:c + 6] = 0.6
    checker = (np.indices((12, 12)).sum(0) % 2).astype(np.float32)
    return X + texture[:, None, None, None] * checker


def test_relative_score_does_not_mistake_detail_for_anomaly():
    """Normal images carry a checkerboard of random strength that a small model cannot rebuild;
    anomalies are plain squares shifted off the normal range. Raw error ranks the strongly
    textured normals first; the relative score ranks the anomalies first."""
    rng = np.random.default_rng(0)
    normal = detailed_and_plain(rng, 600, rng.uniform(0.05, 0.4, 600))
    test_normal = detailed_and_plain(rng, 200, rng.uniform(0.05, 0.4, 200))
    odd = np.roll(detailed_and_plain(rng, 40, np.full(40, 0.05)), 4, axis=-1)
    X_test, truth = np.concatenate([test_normal, odd]), np.r_[np.zeros(200), np.ones(40)]
    model = aekit.AutoEncoder(latent_dim=2, network="mlp", hidden_dims=(32,),
                              **fast(epochs=30, learning_rate=3e-3))
    auroc = {score: detection_metrics(aekit.AnomalyDetector(model, score=score, random_state=0)
                                      .fit(normal).anomaly_score(X_test), truth)["auroc"]
             for score in ("reconstruction", "relative")}
    assert auroc["relative"] > 0.95 and auroc["relative"] > auroc["reconstruction"] + 0.05


def test_auto_score_follows_the_data_and_the_model(planted, images):
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(**fast()), random_state=0)
    assert detector.fit(images[0]).score_ == "relative"
    assert detector.fit(planted[0]).score_ == "reconstruction"
    assert detector.set_params(model=aekit.VAE(**fast())).fit(planted[0]).score_ == "log_likelihood"
    with pytest.raises(aekit.UnsupportedOperationError, match="image inputs"):
        aekit.AnomalyDetector(aekit.AutoEncoder(**fast()), score="relative").fit(planted[0])


def test_relative_score_is_finite_on_blank_images(images):
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(**fast()), random_state=0).fit(images[0])
    blank = np.zeros((3, 1, 8, 8), np.float32)
    assert np.isfinite(detector.anomaly_score(blank)).all()


@pytest.mark.parametrize("params, match", [
    ({"contamination": 0.7}, "contamination must be a number in \\[0, 0.5\\)"),
    ({"score": "magic"}, "score must be one of"),
    ({"validation_fraction": 1.0}, "validation_fraction must be"),
    ({"model": "vae"}, "model must be None or an instance of BaseAutoEncoder"),
    ({"code_density": 1}, "code_density must be True or False"),
    ({"n_neighbors": 0}, "n_neighbors must be"),
])
def test_detector_parameters_are_checked_in_one_place(params, match):
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(aekit.InvalidInputError, match=match):
        aekit.AnomalyDetector(**params).fit(X)


def test_the_heat_map_draws_negative_per_pixel_errors(tmp_path):
    # -log p per pixel is below 0 wherever a small-sigma Gaussian reconstructs well: the colour
    # scale must span those values (it once ran from 0 to a negative maximum, and matplotlib refused).
    from PIL import Image

    from aekit.plots import heatmap_figure

    rng = np.random.default_rng(0)
    inputs = rng.random((3, 1, 8, 8)).astype(np.float32)
    errors = -3.0 + 0.1 * rng.random((3, 1, 8, 8))
    heatmap_figure(inputs, inputs, errors, np.array([1.0, 2.0, 3.0]), tmp_path / "h.png", "negative errors")
    with Image.open(tmp_path / "h.png") as png:
        assert png.size[0] > 100 and len(set(png.convert("RGB").getdata())) > 20
