"""Watching a live series: score each row as it arrives, from the window of rows that ends there.

:class:`StreamDetector` wraps a model trained on sliding windows of a healthy period (``aekit
train --window W`` or an estimator fitted on such windows). Per row it emits

* ``score``: the model's anomaly score of the window ending at that row (causal by
  construction: the window holds that row and the ones before it, never a later one);
* ``unusual``: how unusual the recent scores are, in [0, 1]: the mean of the last ``smoothing``
  scores, placed on a Gaussian fitted to the last ``history`` scores (its CDF). This is
  Numenta's "anomaly likelihood" idea (Ahmad et al., 2017), which NAB's best detectors use: a
  score's meaning is relative to the scores the series usually gets, and the running
  distribution absorbs a lasting change of level (drift) instead of alarming on it forever;
* ``alarm``: True on the row where ``unusual`` reaches ``alarm_level``: one alarm per
  episode, not one per row of it (an episode ends when ``unusual`` drops below the level).

The running distribution starts from the healthy period's scores, so alarms are possible from
the first full window. Scoring rows one at a time or many at once gives the same numbers.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from scipy import special

from ..errors import InvalidInputError
from .detect import AnomalyDetector

STREAM_BATCH_ROWS = 64  # windows per model call while streaming (one shape for every call)


class StreamDetector:
    """Score a live series one row (or a batch of rows) at a time.

    Parameters
    ----------
    model : fitted aekit estimator
        Trained on windows of ``window`` rows of the series' value columns: flat windows
        (``window * channels`` values, channel after channel, as ``aekit.data.load(...,
        window=W)`` gives them) or ``(channels, window)`` sequences (``network="temporal"``).
    normal : array of shape (n_rows, channels) or (n_rows,)
        Rows of a healthy period (e.g. those the model was trained on): their windows' scores
        standardise the score and start the running distribution.
    score : str, default="auto"
        The window's anomaly score, as :class:`AnomalyDetector`'s ``score``.
    history : int, default=2000
        How many recent scores the running distribution holds: about how long a lasting
        change takes to become the new normal.
    smoothing : int, default=10
        How many recent scores are averaged before they are compared: one odd window is
        noise, a run of them is an event.
    alarm_level : float, default=0.9999
        ``unusual`` at or above which rows are in an alarm episode; its first row raises the
        alarm.

    Examples
    --------
    >>> import numpy as np, aekit
    >>> t = np.arange(3000)
    >>> healthy = np.sin(t / 10)[:, None].astype(np.float32)
    >>> windows = np.lib.stride_tricks.sliding_window_view(healthy[:, 0], 16)
    >>> model = aekit.AutoEncoder(latent_dim=4, epochs=5, verbose=0, random_state=0).fit(windows)
    >>> watch = aekit.StreamDetector(model, healthy)
    >>> out = watch.update_many(np.sin(np.arange(3000, 3100) / 10)[:, None])
    >>> sorted(out), len(out["score"])
    (['alarm', 'score', 'unusual'], 100)
    """

    def __init__(self, model, normal, *, score: str = "auto", history: int = 2000, smoothing: int = 10,
                 alarm_level: float = 0.9999):
        if not isinstance(history, int) or history < 2 or not isinstance(smoothing, int) or smoothing < 1:
            raise InvalidInputError(f"history must be an integer >= 2 and smoothing >= 1, got {history!r} "
                                    f"and {smoothing!r}")
        if not 0 < alarm_level <= 1:
            raise InvalidInputError(f"alarm_level must be in (0, 1], got {alarm_level!r}")
        normal = _as_rows(normal)
        self.channels = normal.shape[1]
        self.window, self.sequences = window_layout(model.input_shape_, self.channels)
        if len(normal) < self.window + 1:
            raise InvalidInputError(f"the healthy period has {len(normal)} rows: at least {self.window + 1} "
                                    f"are needed for windows of {self.window}")
        self.model = model
        self.history, self.smoothing, self.alarm_level = history, smoothing, alarm_level
        # The model's own score, without neighbour distances: the healthy windows overlap
        # their neighbours in time, so their distances would be smaller than a new window's.
        with model._small_batches(STREAM_BATCH_ROWS):  # the scores the stream's will be compared with
            self.detector_ = AnomalyDetector.from_fitted(model, self._windows(normal), score=score,
                                                         n_neighbors=None, device=model.device)
        self.running_ = RunningScores(self.detector_.validation_scores_, history=history,
                                      smoothing=smoothing)
        self._buffer = np.empty((0, self.channels), dtype=np.float32)
        self._above = False  # whether the last row was at or above the alarm level

    def update(self, row) -> dict:
        """Take one row (its value columns) and return its ``score``, ``unusual`` and ``alarm``
        (NaN, NaN and False while the first window fills)."""
        return {key: values[0] for key, values in self.update_many(np.reshape(row, (1, -1))).items()}

    def update_many(self, rows) -> dict[str, np.ndarray]:
        """Take consecutive rows ((n, channels) or (n,)) and return per row ``score``,
        ``unusual`` and ``alarm`` arrays, exactly as ``update`` row by row would."""
        rows = _as_rows(rows)
        if rows.shape[1] != self.channels:
            raise InvalidInputError(f"expected rows of {self.channels} value column(s), got {rows.shape[1]}")
        series = np.concatenate([self._buffer, rows])
        n_waiting = self.window - 1 - len(self._buffer)  # rows still filling the first window
        scores = np.full(len(rows), np.nan)
        if len(series) >= self.window:
            scores[max(n_waiting, 0):] = self._score(self._windows(series))
        self._buffer = series[-(self.window - 1):]
        level = unusual(self.running_.update_many(scores))
        above = level >= self.alarm_level
        alarm = above & ~np.concatenate([[self._above], above[:-1]])  # an episode's first row only
        self._above = bool(above[-1]) if len(above) else self._above
        return {"score": scores, "unusual": level, "alarm": alarm}

    def _score(self, windows: np.ndarray) -> np.ndarray:
        # Rows come a few at a time: padding each call to the model's throughput-sized batch
        # (thousands of windows) would cost ~100 ms a row.
        with self.model._small_batches(STREAM_BATCH_ROWS):
            return self.detector_.anomaly_score(windows)

    def _windows(self, series: np.ndarray) -> np.ndarray:
        """The model's inputs for every full window of ``series`` (T, channels)."""
        windows = np.lib.stride_tricks.sliding_window_view(series, self.window, axis=0)  # (n, C, W)
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        return windows if self.sequences else windows.reshape(len(windows), -1)


class RunningScores:
    """Where each new score stands among the last ``history`` scores, in standard deviations.

    ``update`` returns z = (mean of the last ``smoothing`` scores - mean of the last
    ``history`` scores before this one) / their standard deviation; ``unusual(z)`` turns it
    into [0, 1]. The distribution starts from ``initial`` scores (a healthy period's), so the
    first new score already has one to be compared with. Any causal score works: the NAB
    benchmark puts its baselines through it too.
    """

    def __init__(self, initial, *, history: int = 2000, smoothing: int = 10):
        self.history = history
        self._scores = deque(np.asarray(initial, dtype=np.float64)[-history:].tolist(), maxlen=history)
        if not self._scores:
            raise InvalidInputError("the running distribution needs at least one initial score")
        self._recount()
        self._recent: deque[float] = deque(maxlen=smoothing)
        self._updates = 0

    def update_many(self, scores) -> np.ndarray:
        """z per score, in order (NaN for a NaN score, which is skipped)."""
        return np.array([self.update(s) for s in np.asarray(scores, dtype=np.float64)])

    def update(self, score: float) -> float:
        if math.isnan(score):
            return math.nan
        self._recent.append(score)
        n = len(self._scores)
        mean = self._sum / n
        std = math.sqrt(max(self._sum_sq / n - mean * mean, 0.0))
        recent = sum(self._recent) / len(self._recent)
        if n == self.history:  # the oldest score leaves the distribution
            old = self._scores[0]
            self._sum -= old
            self._sum_sq -= old * old
        self._scores.append(score)
        self._sum += score
        self._sum_sq += score * score
        self._updates += 1
        if self._updates % self.history == 0:  # running sums lose precision: recount them now and then
            self._recount()
        if std == 0.0:
            return 0.0 if recent == mean else math.copysign(math.inf, recent - mean)
        return (recent - mean) / std

    def _recount(self) -> None:
        self._sum = math.fsum(self._scores)
        self._sum_sq = math.fsum(s * s for s in self._scores)


def unusual(z: np.ndarray) -> np.ndarray:
    """The Gaussian CDF of ``z``: how unusual, in [0, 1] (NaN stays NaN)."""
    return 0.5 * special.erfc(-np.asarray(z, dtype=np.float64) / math.sqrt(2.0))


def window_layout(input_shape: tuple[int, ...], channels: int) -> tuple[int, bool]:
    """(window length, whether the model reads (channels, window) sequences) for a model of
    ``input_shape`` watching ``channels`` value columns."""
    if len(input_shape) == 2:
        if input_shape[0] != channels:
            raise InvalidInputError(f"the model reads windows of {input_shape[0]} channel(s); the series has "
                                    f"{channels} value column(s)")
        return input_shape[1], True
    if len(input_shape) != 1 or input_shape[0] % channels or input_shape[0] // channels < 2:
        raise InvalidInputError(f"a model of samples shaped {input_shape} does not read windows of "
                                f"{channels} value column(s)")
    return input_shape[0] // channels, False


def _as_rows(values) -> np.ndarray:
    rows = np.asarray(values, dtype=np.float32)
    rows = rows[:, None] if rows.ndim == 1 else rows
    if rows.ndim != 2:
        raise InvalidInputError(f"expected rows of value columns ((n,) or (n, channels)), got shape "
                                f"{rows.shape}")
    if not np.isfinite(rows).all():
        raise InvalidInputError("the rows hold NaN or infinite values")
    return rows
