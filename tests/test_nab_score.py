"""The NAB score of benchmarks/nab_score.py, on series whose scores are known by hand."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from nab_score import best_threshold, corpus_score, prepare, probation_rows, scaled_sigmoid  # noqa: E402

N = 2000  # rows per series: a probation of 300 rows


def one_window_corpus():
    return [prepare(N, [(1000, 1099)])]


def spikes(*rows) -> np.ndarray:
    scores = np.zeros(N)
    scores[list(rows)] = 1.0
    return scores[probation_rows(N):]


def test_the_scaled_sigmoid_weighs_early_detections_and_distant_false_alarms_fully():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.9866, abs=1e-4)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(0.5) < 0 and scaled_sigmoid(-0.5) > 0


def test_never_firing_scores_0_and_firing_at_every_window_start_scores_100():
    corpus = [prepare(N, [(1000, 1099)]), prepare(N, [(500, 549), (1500, 1599)])]
    assert corpus_score(corpus, [np.zeros(N - 300), np.zeros(N - 300)], 0.5) == 0.0
    perfect = [spikes(1000), spikes(500, 1500)]
    assert corpus_score(corpus, perfect, 0.5) == pytest.approx(100.0)
    assert best_threshold(corpus, perfect) == (1.0, pytest.approx(100.0))


def test_only_the_earliest_detection_in_a_window_counts():
    corpus = one_window_corpus()
    assert corpus_score(corpus, [spikes(1000, 1050, 1099)], 0.5) == pytest.approx(100.0)
    late = corpus_score(corpus, [spikes(1099)], 0.5)  # at the window's end: the miss avoided, no more
    assert 50.0 < late < 52.0


def test_false_alarms_cost_a_fp_far_from_windows_and_less_just_after_one():
    corpus = one_window_corpus()
    before = corpus_score(corpus, [spikes(1000, 400)], 0.5)
    assert before == pytest.approx(100 * (1 + 1 - 0.11) / 2)
    just_after = corpus_score(corpus, [spikes(1000, 1101)], 0.5)
    assert before < just_after < 100.0


def test_detections_in_the_probation_do_not_count():
    scores = np.zeros(N)
    scores[[100, 1000]] = 1.0
    corpus = one_window_corpus()
    assert corpus_score(corpus, [scores[probation_rows(N):]], 0.5) == pytest.approx(100.0)
    assert probation_rows(N) == 300 and probation_rows(100_000) == 750


def test_the_swept_threshold_is_the_best_one_and_scores_as_corpus_score_does():
    rng = np.random.default_rng(0)
    corpus = [prepare(N, [(1000, 1099)]), prepare(N, [(500, 549), (1500, 1599)])]
    scores = [rng.random(N - 300).round(2) for _ in corpus]  # ties among rows
    scores[0][700:720] += 0.5  # a burst inside the first window
    threshold, best = best_threshold(corpus, scores)
    assert best == pytest.approx(corpus_score(corpus, scores, threshold))
    for t in np.unique(np.concatenate(scores)):
        assert corpus_score(corpus, scores, t) <= best + 1e-9


def test_onset_alarms_count_a_run_of_rows_once():
    corpus = one_window_corpus()
    scores = np.zeros(N)
    scores[400:420] = 1.0  # twenty rows of one false alarm, far from the window
    scores[1000] = 1.0
    scores = scores[probation_rows(N):]
    assert corpus_score(corpus, [scores], 0.5) == pytest.approx(100 * (2 - 20 * 0.11) / 2)
    once = corpus_score(corpus, [scores], 0.5, alarms="onsets")
    assert once == pytest.approx(100 * (2 - 0.11) / 2)
    threshold, best = best_threshold(corpus, [scores], alarms="onsets")
    assert best == pytest.approx(once) and threshold <= 1.0
