"""Why an input is anomalous: each score split over the input's columns, channels, time steps
or pixels, exactly, and naming the column or channel an anomaly was injected into."""

import numpy as np
import pandas as pd
import pytest

import aekit
from conftest import fast

RNG = np.random.default_rng


def _table(n, seed=0, d=8):
    """Rows of correlated columns (3 factors plus noise): each column is predictable from the others."""
    rng = RNG(seed)
    basis = RNG(100).normal(size=(3, d))
    return (rng.normal(size=(n, 3)) @ basis + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def _inject_columns(X, seed):
    """Each row with one column pushed 5 of its standard deviations away; returns the columns."""
    rng = RNG(seed)
    columns = rng.integers(X.shape[1], size=len(X))
    X = X.copy()
    X[np.arange(len(X)), columns] += 5 * X.std(0)[columns] * rng.choice([-1, 1], size=len(X))
    return X, columns


@pytest.mark.parametrize("make_model", [
    lambda: aekit.AutoEncoder(latent_dim=3, **fast(epochs=40)),  # reconstruction error + neighbours
    lambda: aekit.VAE(latent_dim=3, **fast(epochs=40)),  # -log p(x) + neighbours (the default detector)
], ids=["autoencoder", "vae"])
def test_the_top_contributor_names_the_column_an_anomaly_was_injected_into(make_model):
    detector = aekit.AnomalyDetector(make_model(), random_state=0).fit(_table(1000))
    odd, columns = _inject_columns(_table(200, seed=1), seed=2)
    explanation = detector.explain(odd)
    top = np.array([row[0][0] for row in explanation.top(1)])
    assert (top == np.array([f"x{j}" for j in columns])).mean() >= 0.9
    assert explanation.kind == "columns" and explanation.contributions.shape == odd.shape


@pytest.mark.parametrize("options", [{}, {"code_density": True}, {"n_neighbors": None}, {"score": "elbo"}])
def test_contributions_and_rest_add_up_to_the_score_above_the_normal_mean(options):
    """The split is exact: per dimension (reconstruction error, neighbour distance) plus what no
    dimension carries (the code's part of -log p(x), the code density) is the score, measured
    from the held-out normal rows' mean score."""
    detector = aekit.AnomalyDetector(aekit.VAE(latent_dim=3, **fast(epochs=10)), random_state=0,
                                     **options).fit(_table(300))
    X = _table(50, seed=3)
    explanation = detector.explain(X)
    total = explanation.contributions.reshape(len(X), -1).sum(1) + explanation.rest + explanation.baseline
    scores = detector.anomaly_score(X)
    np.testing.assert_allclose(total, scores, rtol=1e-4, atol=1e-3 * np.abs(scores).max())
    np.testing.assert_allclose(explanation.scores, scores, rtol=1e-4, atol=1e-3 * np.abs(scores).max())
    assert explanation.baseline == pytest.approx(detector.validation_scores_.mean())
    if options.get("n_neighbors", "auto") is None and "score" not in options:
        assert np.abs(explanation.rest).max() > 0  # -log p(x) is more than the reconstruction error


def test_the_neighbour_distance_is_split_over_the_columns_it_is_measured_in():
    """Scored by the reconstruction error of an autoencoder that rebuilds the rows perfectly
    (as many codes as columns), only the distance to the 5th nearest normal row remains: each
    column's part is its squared difference from that row, over the distance."""
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=8, **fast(epochs=5)),
                                     random_state=0).fit(_table(300))
    X = _table(20, seed=4)
    per_dim, _ = aekit.detectors.explanation.dimension_parts(detector, X)
    distance, nearest = detector.neighbor_distance(X, return_nearest=True)
    away = detector.preprocessed(X) - detector.reference_[nearest]
    model_part = detector.model_.reconstruction_error(X, per_dim=True) / detector.standardise_[0][1]
    distance_part = away ** 2 / distance[:, None] / detector.standardise_[1][1]
    np.testing.assert_allclose(per_dim - model_part, distance_part, rtol=1e-4, atol=1e-6)


def test_a_tables_columns_are_named_as_the_model_was_fitted():
    frame = pd.DataFrame(_table(300), columns=[f"sensor_{i}" for i in range(8)])
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=3, **fast(epochs=5)), random_state=0)
    detector.fit(frame)
    odd = frame.iloc[:5].copy()
    odd["sensor_6"] += 50
    explanation = detector.explain(odd)
    assert explanation.names == tuple(frame.columns)
    assert all(row[0][0] == "sensor_6" for row in explanation.top(2))
    assert explanation.describe(1)[0].startswith("sensor_6 ")
    shares = explanation.shares()
    assert np.all(shares >= 0) and np.allclose(shares.sum(1), 1)


def _windows(n, seed, channels=3, length=16):
    """Flat windows of three phase-shifted sine channels with noise, channel after channel."""
    rng = RNG(seed)
    t = rng.uniform(0, 100, size=(n, 1, 1)) + np.arange(length)[None, None, :]
    phase = np.arange(channels)[None, :, None]
    w = np.sin(t / 3 + phase) + 0.05 * rng.normal(size=(n, channels, length))
    return w.astype(np.float32)


def test_the_top_channel_of_a_window_names_the_channel_a_spike_was_injected_into():
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=4, **fast(epochs=40)), random_state=0)
    detector.fit(_windows(1000, seed=0).reshape(1000, -1))
    rng = RNG(5)
    odd = _windows(200, seed=1)
    channels, at = rng.integers(3, size=200), rng.integers(14, size=200)
    for i, (c, t) in enumerate(zip(channels, at, strict=True)):
        odd[i, c, t:t + 3] += 2.5
    explanation = detector.explain(odd.reshape(200, -1), channels=3, names=["pump", "valve", "fan"])
    with pytest.raises(aekit.InvalidInputError, match="does not divide"):
        detector.explain(odd.reshape(200, -1)[:2], channels=5)
    with pytest.raises(aekit.InvalidInputError, match="2 names for 3 channels"):
        detector.explain(odd.reshape(200, -1)[:2], channels=3, names=["a", "b"])
    assert explanation.kind == "channels" and explanation.contributions.shape == (200, 3, 16)
    top = np.array([row[0][0] for row in explanation.top(1)])
    assert (top == np.array(["pump", "valve", "fan"])[channels]).mean() >= 0.9
    # and when: the spike's time steps carry the most of that window's contribution
    peak = explanation.per_time().argmax(1)
    assert ((peak >= at) & (peak < at + 3)).mean() >= 0.9


def test_sequences_are_grouped_by_channel_without_being_told():
    windows = _windows(300, seed=0)
    model = aekit.AutoEncoder(network="temporal", latent_dim=4, **fast(epochs=2))
    detector = aekit.AnomalyDetector(model, random_state=0).fit(windows)
    explanation = detector.explain(windows[:4])
    assert explanation.kind == "channels" and explanation.names == ("c0", "c1", "c2")
    assert explanation.per_name().shape == (4, 3) and explanation.per_time().shape == (4, 16)


def test_the_brightest_contribution_of_an_image_lies_in_the_patch_injected_into_it():
    rng = RNG(0)
    yy, xx = np.mgrid[:12, :12]

    def blobs(n):
        centre = rng.uniform(3, 9, size=(n, 2, 1, 1))
        return np.exp(-((yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2) / 8).astype(np.float32)

    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=4, **fast(epochs=30)), random_state=0)
    detector.fit(blobs(800))
    odd, corners = blobs(100), rng.integers(0, 10, size=(100, 2))
    for image, (r, c) in zip(odd, corners, strict=True):
        image[r:r + 2, c:c + 2] = 1.0 - image[r:r + 2, c:c + 2]
    explanation = detector.explain(odd)
    assert explanation.kind == "pixels" and explanation.names is None
    brightest = np.array([np.unravel_index(m.argmax(), m.shape) for m in explanation.contributions])
    inside = ((brightest >= corners) & (brightest < corners + 2)).all(1)
    assert inside.mean() >= 0.9
    # Named as regions of a seventh of the side (2 x 2 pixels of these 12 x 12 images).
    assert explanation.region == 2 and explanation.per_name().shape == (100, 36)
    total = explanation.contributions.reshape(100, -1).sum(1)
    np.testing.assert_allclose(explanation.per_name().sum(1), total, rtol=1e-5)
    named = [explanation.top(1)[i][0][0] for i in range(100)]
    spans = [[int(v) for v in part.split()[1].rstrip(",").split("-")] for text in named
             for part in text.split(", ")]
    top_rows, top_columns = np.array(spans[0::2]), np.array(spans[1::2])
    overlaps = ((top_rows[:, 0] <= corners[:, 0] + 1) & (top_rows[:, 1] >= corners[:, 0])
                & (top_columns[:, 0] <= corners[:, 1] + 1) & (top_columns[:, 1] >= corners[:, 1]))
    assert overlaps.mean() >= 0.9 and named[0].startswith("rows ")


def test_a_tables_columns_are_ranked_by_how_much_lower_the_score_is_with_that_column_normal():
    """One pushed column moves the code and the nearest normal rows, so an additive split
    spreads it over other columns; its drop (the score with that column alone at the normal
    rows' mean) does not."""
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=3, **fast(epochs=20)),
                                     random_state=0).fit(_table(500))
    odd, columns = _inject_columns(_table(40, seed=6), seed=7)
    explanation = detector.explain(odd)
    for j in (0, 5):
        occluded = odd.copy()
        occluded[:, j] = detector.normal_values_[j]
        np.testing.assert_allclose(explanation.drops[:, j],
                                   detector.anomaly_score(odd) - detector.anomaly_score(occluded), rtol=1e-5)
    normal = _table(500)  # the normal value: the held-out rows' mean (100 of these 500)
    assert np.all(np.abs(detector.normal_values_ - normal.mean(0)) < 0.3 * normal.std(0))
    single = (explanation.drops > 0).any(1)  # rows that one column alone makes less anomalous
    assert single.mean() > 0.9 and np.array_equal(explanation.blame()[single], explanation.drops[single])
    assert (explanation.blame().argmax(1) == columns).mean() >= 0.9
