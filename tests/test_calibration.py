"""Thresholds and p-values that mean what they say: calibrated on normal rows the model did not
train on, with a fitted tail beyond the highest of them."""

import json

import numpy as np
import pandas as pd
import pytest

import aekit
from aekit.cli import main
from aekit.detectors import Calibration
from conftest import fast

RNG = np.random.default_rng


@pytest.mark.parametrize("draw", [RNG(0).exponential, RNG(1).normal, RNG(2).lognormal])
def test_thresholds_realise_the_false_alarm_rate_asked_for(draw):
    """Resolved by the held-out scores (conformal): the rate on average; below what they resolve
    (the fitted tail, here with 50 exceedances for a rate of one in a thousand): within a factor
    of four, for light and heavy tails alike."""
    cases = [(1000, 0.05, 0.04, 0.06), (1000, 0.01, 0.007, 0.013), (500, 0.001, 0.00025, 0.004)]
    for n, rate, low, high in cases:
        realised = [(draw(size=100_000) > Calibration.fit(draw(size=n)).threshold(rate)).mean()
                    for _ in range(10)]
        assert low <= np.mean(realised) <= high, (n, rate, np.mean(realised))


def test_p_values_are_uniform_for_normal_scores_and_keep_falling_beyond_the_highest():
    rng = RNG(3)
    calibration = Calibration.fit(rng.normal(size=2000))
    p = calibration.p_value(rng.normal(size=50_000))
    for a in (0.01, 0.1, 0.5):
        assert abs((p <= a).mean() - a) < 0.2 * a + 0.002
    beyond = np.linspace(calibration.scores[-1], calibration.scores[-1] + 10, 50)
    surprise = calibration.surprise(beyond)
    assert np.all(np.diff(surprise) > 0) and surprise[-1] > 10  # no saturation at log10(n + 1)
    s = np.sort(rng.normal(size=500) * 3)
    assert np.all(np.diff(calibration.p_value(s)) <= 0)  # monotone through the tail's start
    assert calibration.p_value(calibration.scores[0] - 1) == 1.0
    # flagged (above the threshold) exactly where the p-value is at most the rate
    for rate in (0.2, 0.01, 1e-5):
        t = calibration.threshold(rate)
        assert calibration.p_value(t + 1e-9) <= rate * (1 + 1e-6) and calibration.p_value(t - 1e-3) > rate


def test_calibration_refuses_too_few_or_non_finite_scores():
    with pytest.raises(ValueError, match="two finite"):
        Calibration.fit([1.0])
    with pytest.raises(ValueError, match="two finite"):
        Calibration.fit([1.0, np.nan, 2.0])


def _overfitting_table(n_train=240, n_new=2000, d=16, seed=0):
    """Few noisy normal rows: a model explains the ones it trained on far better than new ones."""
    rng = RNG(seed)
    basis = rng.normal(size=(4, d))
    draw = lambda n: (rng.normal(size=(n, 4)) @ basis + 0.5 * rng.normal(size=(n, d))).astype(np.float32)
    return draw(n_train), draw(n_new)


def _images(n, seed):
    rng = RNG(seed)
    x, y = np.meshgrid(np.arange(8), np.arange(8))
    centre = rng.uniform(2, 6, size=(n, 2))
    blobs = np.exp(-((x - centre[:, :1, None]) ** 2 + (y - centre[:, 1:, None]) ** 2) / 4)
    return (blobs + 0.05 * rng.normal(size=blobs.shape)).astype(np.float32)[:, None]


def _windows(n, seed):
    rng = RNG(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    t = np.arange(24)[None, None, :]
    return (np.sin(t / 3 + phase) * [[[1.0], [0.5]]] + 0.1 * rng.normal(size=(n, 2, 24))).astype(np.float32)


@pytest.mark.parametrize("kind", ["table", "images", "windows"])
def test_the_detector_flags_new_normal_data_at_the_rate_asked_for(kind):
    if kind == "table":
        train, new = _overfitting_table()
        model = aekit.AutoEncoder(latent_dim=4, **fast(epochs=150, learning_rate=3e-3))
    elif kind == "images":
        train, new = _images(600, 0), _images(2000, 1)
        model = aekit.AutoEncoder(latent_dim=4, network="mlp", **fast(epochs=30))
    else:
        train, new = _windows(600, 0), _windows(2000, 1)
        model = aekit.AutoEncoder(latent_dim=4, network="mlp", **fast(epochs=30))
    detector = aekit.AnomalyDetector(model, contamination=0.05, validation_fraction=0.3, random_state=0)
    realised = (detector.fit(train).predict(new) == -1).mean()
    assert 0.015 <= realised <= 0.12, realised
    assert (detector.p_value(new) <= 0.05).mean() == pytest.approx(realised)
    assert "held out" in detector.calibrated_on_


def test_from_fitted_on_the_training_data_sets_the_threshold_on_the_rows_the_fit_held_out():
    train, new = _overfitting_table()
    model = aekit.AutoEncoder(latent_dim=4, validation_fraction=0.25, **fast(epochs=150, learning_rate=3e-3))
    model.fit(train)
    detector = aekit.AnomalyDetector.from_fitted(model, train, contamination=0.05, n_neighbors=None)
    assert detector.calibrated_on_.startswith("the 60 normal rows the model's fit held out")
    held_out = aekit.training.held_out_rows(len(train), 0.25, model.seed_).numpy()
    np.testing.assert_allclose(np.sort(detector.validation_scores_),
                               np.sort(detector.anomaly_score(train[held_out])), rtol=1e-5)
    realised = (detector.predict(new) == -1).mean()
    # Set on every training row instead, the threshold flags far more new normal rows.
    every_row = aekit.AnomalyDetector.from_fitted(model, train, contamination=0.05, n_neighbors=None,
                                                  calibration_rows=np.arange(len(train)))
    assert realised <= 0.12 < (every_row.predict(new) == -1).mean()
    other = aekit.AnomalyDetector.from_fitted(model, new[:500], contamination=0.05, n_neighbors=None)
    assert other.calibrated_on_ == "all 500 normal rows (not the model's training data)"


def test_the_readme_path_flags_new_normal_rows_at_the_rate_asked_for(tmp_path):
    """`aekit train --data normal.csv`, then `aekit detect --normal-data normal.csv`: the
    threshold comes from the rows the run held out, and the summary says so."""
    train, new = _overfitting_table()
    cols = [f"f{i}" for i in range(train.shape[1])]
    pd.DataFrame(train, columns=cols).to_csv(tmp_path / "normal.csv", index=False)
    pd.DataFrame(new, columns=cols).to_csv(tmp_path / "new.csv", index=False)
    run, out = tmp_path / "run", tmp_path / "detect"
    assert main(["train", "--data", str(tmp_path / "normal.csv"), "--model", "ae", "--latent-dim", "4",
                 "--epochs", "150", "--out", str(run), "--quiet"]) == 0
    assert main(["detect", "--model", str(run), "--data", str(tmp_path / "new.csv"), "--normal-data",
                 str(tmp_path / "normal.csv"), "--contamination", "0.05", "--out", str(out)]) == 0
    summary = json.loads((out / "detect.json").read_text())
    assert "held out (not trained on)" in summary["threshold_from"]
    assert summary["false_alarm_rate"] == 0.05 and summary["calibration"]["held_out_scores"] == 24
    scores = pd.read_csv(out / "scores.csv")
    assert 0.005 <= scores["flagged"].mean() <= 0.12  # 24 held-out rows: a wide but honest range
    np.testing.assert_allclose(scores["surprise"], -np.log10(scores["p_value"]), rtol=1e-6)
    assert scores["flagged"].equals(scores["score"] > summary["threshold"])


def test_the_training_data_digest_survives_saving(tmp_path):
    train, _ = _overfitting_table(n_train=100)
    model = aekit.AutoEncoder(latent_dim=2, **fast()).fit(train)
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    assert len(model.training_data_sha256_) == 64
    assert loaded.training_data_sha256_ == model.training_data_sha256_
    detector = aekit.AnomalyDetector.from_fitted(loaded, train, n_neighbors=None)
    assert "held out" in detector.calibrated_on_


def test_the_training_data_is_recognised_as_the_fit_saw_it():
    """float64 arrays and DataFrames are converted by the fit (float32, named columns): the same
    data passed again in the same form is recognised, another slice of it is not."""
    X = RNG(5).normal(size=(300, 5))
    frame = pd.DataFrame(X, columns=list("abcde"))
    for data in (X, frame):
        model = aekit.AutoEncoder(latent_dim=2, **fast()).fit(data)
        assert "held out" in aekit.AnomalyDetector.from_fitted(model, data).calibrated_on_
    part = aekit.AnomalyDetector.from_fitted(model, frame.iloc[:200]).calibrated_on_
    assert part == "all 200 normal rows (not the model's training data)"
