"""The NAB score (Lavin & Ahmad, 2015; numenta/NAB's sweeper), standard profile.

Each detector gives every row of every series a score; one threshold, optimised over the whole
corpus, turns scores into detections. Per labelled anomaly window the earliest detection earns
up to A_TP (a scaled sigmoid of its position: 1 at the window's start, about 0 at its end), a
window without any detection costs A_FN, and each detection outside the windows costs up to A_FP
(less right after a window, the full A_FP far from one or before the first). Detections in the
probationary period (the first 15% of a series, at most 750 rows) do not count. The corpus total
is normalised so that a detector that never fires scores 0 and one that fires at the start of
every window and nowhere else scores 100.

A detection is every row at or above the threshold (``alarms="rows"``, as NAB counts a
detector's output), or only the first row of each run of such rows (``alarms="onsets"``: one
alarm per episode, as ``aekit.StreamDetector`` raises them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STANDARD_PROFILE = {"tp": 1.0, "fp": 0.11, "fn": 1.0}
PROBATION_PERCENT = 0.15


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's weight of a detection at ``position``: -1 at a window's start .. 0 at its end
    (positive past it, in window widths); 2·sigmoid(-5·position) - 1, and -1 beyond 3 widths."""
    position = np.asarray(position, dtype=np.float64)
    return np.where(position > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0)


def probation_rows(n_rows: int) -> int:
    return int(min(np.floor(PROBATION_PERCENT * n_rows), PROBATION_PERCENT * 5000))


@dataclass
class Series:
    """One series prepared for scoring: per row after the probation, the weight a detection
    there would earn (TP, positive) or cost (FP, negative), and the window it falls in (-1:
    none)."""
    weights: np.ndarray
    window: np.ndarray
    n_windows: int


def prepare(n_rows: int, windows: list[tuple[int, int]], profile: dict = STANDARD_PROFILE) -> Series:
    """``windows``: (first row, last row) of each labelled anomaly window, in order."""
    weights = np.empty(n_rows)
    window_of = np.full(n_rows, -1)
    rows = np.arange(n_rows)
    max_tp = float(scaled_sigmoid(-1.0))
    previous_end, previous_width = None, None
    cursor = 0
    for w, (first, last) in enumerate(windows):
        width = last - first + 1
        _outside(weights, rows[cursor:first], previous_end, previous_width, profile)
        inside = rows[first:last + 1]
        weights[inside] = profile["tp"] * scaled_sigmoid(-(last - inside + 1) / width) / max_tp
        window_of[inside] = w
        previous_end, previous_width, cursor = last, width, last + 1
    _outside(weights, rows[cursor:], previous_end, previous_width, profile)
    keep = rows >= probation_rows(n_rows)
    return Series(weights[keep], window_of[keep], len(windows))


def _outside(weights, rows, previous_end, previous_width, profile) -> None:
    if previous_end is None:  # no window before: a false alarm costs the full A_FP
        weights[rows] = -profile["fp"]
    else:
        past = np.abs(previous_end - rows) / max(previous_width - 1, 1)
        weights[rows] = profile["fp"] * scaled_sigmoid(past)


def detections(scores: np.ndarray, threshold: float, alarms: str = "rows") -> np.ndarray:
    """Which rows are detections: at or above ``threshold``, or ("onsets") the first of each run."""
    above = np.asarray(scores) >= threshold
    if alarms == "rows":
        return above
    return above & ~np.concatenate([[False], above[:-1]])


def corpus_score(series: list[Series], scores: list[np.ndarray], threshold: float,
                 profile: dict = STANDARD_PROFILE, alarms: str = "rows") -> float:
    """The normalised NAB score of per-row ``scores`` (after the probation) at ``threshold``."""
    raw = 0.0
    for s, sc in zip(series, scores, strict=True):
        detected = detections(sc, threshold, alarms)
        raw += s.weights[detected & (s.window < 0)].sum()
        for w in range(s.n_windows):
            hits = s.weights[detected & (s.window == w)]
            raw += hits.max() if len(hits) else -profile["fn"]
    return _normalise(raw, series, profile)


def _normalise(raw: float, series: list[Series], profile: dict) -> float:
    n_windows = sum(s.n_windows for s in series)
    null, perfect = -profile["fn"] * n_windows, profile["tp"] * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def best_threshold(series: list[Series], scores: list[np.ndarray], profile: dict = STANDARD_PROFILE,
                   alarms: str = "rows") -> tuple[float, float]:
    """(threshold, normalised score): the one threshold that maximises the corpus score. For
    ``alarms="rows"`` found exactly, by sweeping it down through every distinct score (a
    detector that never fires included); for "onsets" (where a lower threshold can merge two
    alarms into one) on a grid of the scores' quantiles, dense towards the highest."""
    if alarms == "onsets":
        return _best_on_grid(series, scores, profile)
    values = np.concatenate(scores)
    weights = np.concatenate([s.weights for s in series])
    offsets = np.cumsum([0] + [s.n_windows for s in series[:-1]])
    window = np.concatenate([np.where(s.window >= 0, s.window + o, -1)
                             for s, o in zip(series, offsets, strict=True)])
    n_windows = sum(s.n_windows for s in series)
    order = np.argsort(-values, kind="stable")
    values, weights, window = values[order], weights[order], window[order]
    best_tp = np.full(n_windows, -np.inf)  # the best detection so far in each window
    raw = -profile["fn"] * n_windows  # nothing detected yet
    best = (np.inf, raw)
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:  # rows with equal scores enter together
            w = window[j]
            if w < 0:
                raw += weights[j]
            elif weights[j] > best_tp[w]:
                raw += weights[j] - (best_tp[w] if best_tp[w] > -np.inf else -profile["fn"])
                best_tp[w] = weights[j]
            j += 1
        if raw > best[1]:
            best = (float(values[i]), raw)
        i = j
    return best[0], _normalise(best[1], series, profile)


def _best_on_grid(series: list[Series], scores: list[np.ndarray], profile: dict,
                  n_levels: int = 400) -> tuple[float, float]:
    values = np.concatenate(scores)
    values = values[np.isfinite(values)]
    levels = np.unique(np.quantile(values, 1.0 - np.logspace(-7, 0, n_levels)))
    best = (np.inf, 0.0)  # never firing
    for level in levels[::-1]:
        score = corpus_score(series, scores, level, profile, "onsets")
        if score > best[1]:
            best = (float(level), score)
    return best
