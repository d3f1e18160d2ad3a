"""A stream's two views (the model's score, each value against its recent context) and its
alarm episodes, against direct computations."""

import json

import numpy as np
import pytest
from scipy import special

import aekit
from aekit.detectors import ContextView, RunningScores, StreamCalibration, episodes, unusual
from conftest import fast

WINDOW = 8


def series(n=900, seed=0, channels=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / (6 + 3 * np.arange(channels))
    return (np.sin(t) + 0.05 * rng.normal(size=(n, channels))).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    """An autoencoder of flat 8-row windows of two healthy channels."""
    values = series(600, channels=2)
    windows = np.lib.stride_tricks.sliding_window_view(values, WINDOW, axis=0)  # (n, 2, W)
    return aekit.AutoEncoder(latent_dim=3, **fast(epochs=10)).fit(windows.reshape(len(windows), -1))


def test_the_context_view_scores_each_value_against_the_rows_before_it():
    rng = np.random.default_rng(1)
    healthy, live = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
    live[50, 1] = 9.0
    view = ContextView(healthy, 40)
    series_ = np.concatenate([healthy, live])
    expected = np.array([[abs(series_[t, c] - series_[t - 40:t, c].mean()) / series_[t - 40:t, c].std()
                          for c in range(2)] for t in range(40, len(series_))])
    np.testing.assert_allclose(view.healthy_scores_, expected[:260], rtol=1e-10)
    one_by_one = ContextView(healthy, 40)
    rows = np.concatenate([one_by_one.update_many(row[None]) for row in live])
    np.testing.assert_allclose(rows, expected[260:], rtol=1e-10)
    np.testing.assert_allclose(ContextView(healthy, 40).update_many(live), rows, rtol=1e-12)
    assert rows[50].argmax() == 1 and rows[50, 1] > 5


def test_a_flat_context_that_moves_is_an_event_not_an_infinity():
    healthy = np.zeros((100, 1))
    healthy[::10] = 1.0  # the column's healthy spread: 0.3
    view = ContextView(healthy[:60], 20)
    scores = view.update_many(np.array([[0.0]] * 30 + [[0.0], [0.5]]))
    assert scores[-2, 0] == 0  # the flat context's own value: no deviation
    assert np.isfinite(scores).all() and scores[-1, 0] > 100  # in thousandths of the healthy spread (0.3)
    with pytest.raises(aekit.InvalidInputError, match="context"):
        ContextView(healthy, 100)


def test_an_episode_lasts_until_the_statistic_falls_to_its_end():
    z = np.array([0, 4, 3, 4.2, 3.5, 1, 4, 0, -1, 5, np.nan, 5])
    alarm, inside = episodes(z, level=3.72, end=0.0)
    np.testing.assert_array_equal(np.flatnonzero(alarm), [1, 9, 11])  # wavering above 0: one episode
    np.testing.assert_array_equal(inside, [0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1])
    alarm, _ = episodes(z, level=3.72, end=3.72)  # ended at the level: every crossing alarms
    np.testing.assert_array_equal(np.flatnonzero(alarm), [1, 3, 6, 9, 11])
    alarm, _ = episodes(z[1:], level=3.72, end=0.0, inside=True)  # an episode already under way
    np.testing.assert_array_equal(np.flatnonzero(alarm) + 1, [9, 11])


def test_episodes_follow_their_definition_row_by_row():
    """The vectorised latch against the rule read row by row, with NaN and an episode under way."""
    def by_row(z, level, end, inside):
        alarm, in_episode = [], []
        for value in z:
            starts = not inside and value >= level
            inside = (inside and (value > end or value >= level)) or starts
            alarm.append(starts)
            in_episode.append(inside)
        return alarm, in_episode

    rng = np.random.default_rng(3)
    for _ in range(200):
        z = rng.normal(size=rng.integers(0, 40)).round(1)
        z[rng.random(len(z)) < 0.1] = np.nan
        level = float(rng.choice([0.0, 0.5, 1.0]))
        end, inside = min(level, float(rng.choice([-0.5, 0.0, 0.5]))), bool(rng.integers(2))
        got = episodes(z, level, end, inside)
        expected = by_row(z, level, end, inside)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_the_statistic_is_the_more_unusual_view(model):
    values = series(900, channels=2)
    values[750:760, 1] += 2.0  # a second channel's level far outside its recent range
    watch = aekit.StreamDetector(model, values[:600])
    assert watch.context_view_.context == 4 * WINDOW
    out = watch.update_many(values[600:])
    # The same numbers from the parts: the model's running z and each channel's context z.
    alone = aekit.StreamDetector(model, values[:600], context=None)
    model_z = special.ndtri(alone.update_many(values[600:])["unusual"])
    view = ContextView(values[:600], 4 * WINDOW)
    deviation = view.update_many(values[600:])
    context_z = np.stack([RunningScores(view.healthy_scores_[:, c]).update_many(deviation[:, c])
                          for c in range(2)], axis=1)
    np.testing.assert_allclose(out["unusual"], unusual(np.maximum(model_z, context_z.max(axis=1))),
                               rtol=1e-9, equal_nan=True)
    at = np.flatnonzero(out["alarm"])
    at = at[(at >= 150) & (at < 160)]
    assert len(at) == 1 and out["channel"][at[0]] == "c1" and out["channel_share"][at[0]] > 0.5
    assert alone.context_view_ is None and alone.context_running_ == []


def test_the_export_manifest_restarts_both_views(model):
    """The documented recipe: the manifest's rows and scores give the next row's statistic."""
    values = series(700, channels=2)
    watch = aekit.StreamDetector(model, values[:600], context=20)
    watch.update_many(values[600:690])
    spec = json.loads(json.dumps(watch.export_manifest()))
    assert spec["context"] == 20 and spec["episode_end"] == 0.5 and len(spec["context_rows"]) == 20
    row = values[690]
    past = np.asarray(spec["context_rows"])
    deviation = np.abs(row - past.mean(axis=0)) / past.std(axis=0)
    expected = [RunningScores(spec["context_initial_scores"][c], smoothing=1).update(deviation[c])
                for c in range(2)]
    resumed = aekit.StreamDetector(model, values[:600], context=20, smoothing=1)
    resumed.update_many(values[600:690])
    np.testing.assert_allclose(resumed.context_view_.update_many(row[None])[0], deviation, rtol=1e-9)
    got = [running.update(d) for running, d in zip(resumed.context_running_, deviation, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_the_models_view_sums_the_error_of_each_windows_newest_rows(model):
    values = series(700, channels=2)
    windows = np.lib.stride_tricks.sliding_window_view(values, WINDOW, axis=0)  # (n, 2, W)
    flat = np.ascontiguousarray(windows).reshape(len(windows), -1)
    errors = model.reconstruction_error(flat, per_dim=True).reshape(len(flat), 2, WINDOW)
    for newest, rows in [("auto", 1), (3, 3), (None, WINDOW)]:
        watch = aekit.StreamDetector(model, values[:600], newest_rows=newest)
        expected = errors[:, :, -rows:].sum(axis=(1, 2))
        np.testing.assert_allclose(watch.detector_.validation_scores_, expected[:600 - WINDOW + 1],
                                   rtol=1e-4, atol=1e-6)
        scores = watch.update_many(values[600:])["score"]
        np.testing.assert_allclose(scores[WINDOW - 1:], expected[600:], rtol=1e-4, atol=1e-6)
        # The explanation splits the same score: nothing comes from the older rows.
        explained = watch.detector_.explain(flat[-5:], channels=2)
        assert (explained.contributions[:, :, :WINDOW - rows] == 0).all()
        np.testing.assert_allclose(explained.contributions.sum(axis=(1, 2)) + explained.baseline,
                                   watch.detector_.anomaly_score(flat[-5:]), rtol=1e-4)


def test_sequence_windows_and_scores_that_are_no_sum_over_rows():
    values = series(400, channels=2)
    windows = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(values, 12, axis=0))
    temporal = aekit.AutoEncoder(network="temporal", latent_dim=3, **fast(epochs=2)).fit(windows)
    watch = aekit.StreamDetector(temporal, values)
    assert watch.newest_rows_ == 2 and watch.detector_.scored_dims_.shape == (2, 12)
    errors = temporal.reconstruction_error(windows, per_dim=True)
    np.testing.assert_allclose(watch.detector_.validation_scores_, errors[:, :, -2:].sum(axis=(1, 2)),
                               rtol=1e-4, atol=1e-6)
    vae = aekit.VAE(latent_dim=3, **fast(epochs=2)).fit(windows.reshape(len(windows), -1))
    assert aekit.StreamDetector(vae, values, score="log_likelihood").newest_rows_ is None  # "auto": all
    with pytest.raises(aekit.InvalidInputError, match="newest_rows needs the reconstruction score"):
        aekit.StreamDetector(vae, values, score="log_likelihood", newest_rows=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"newest_rows": 0}, "newest_rows must be an integer from 1"),
    ({"newest_rows": WINDOW + 1}, "newest_rows must be an integer from 1"),
    ({"newest_rows": "last"}, "newest_rows must be an integer from 1"),
    ({"episode_end": 0.99999}, "episode_end must be in"),
    ({"episode_end": 0}, "episode_end must be in"),
    ({"context": 1}, "context view needs 2 <= context"),
    ({"context": 600}, "context view needs 2 <= context"),
    ({"context": "long"}, "context must be an integer"),
])
def test_view_and_episode_settings_are_checked(model, kwargs, match):
    with pytest.raises(aekit.InvalidInputError, match=match):
        aekit.StreamDetector(model, series(600, channels=2), **kwargs)


def test_the_level_for_a_false_alarm_rate_counts_episodes_at_that_level():
    """Rows above a low level come in long runs (an episode lasts until the statistic is back at
    its mean), so the episodes per row above it are counted at that level on the replay, not
    carried down from the highest rows: a fresh stream of the same process then starts about
    the episodes asked for."""
    rng = np.random.default_rng(0)

    def statistic(n):  # smoothed Gaussian noise: a slowly wandering statistic, unit variance
        return np.convolve(rng.normal(size=n + 9), np.ones(10) / np.sqrt(10), mode="valid")

    calibration = StreamCalibration.fit(statistic(20_000), smoothing=1, episode_end=0.0)
    live = statistic(200_000)
    for rate in (0.02, 0.005):
        starts, _ = episodes(live, calibration.level(rate), 0.0)
        assert 0.7 * rate < starts.mean() < 1.3 * rate, (rate, starts.mean())
    # Rarer than the replay resolves: the fitted tail takes over, and the level keeps rising.
    assert calibration.level(1e-6) > calibration.level(1e-4) > np.quantile(calibration.replay, 0.999)
