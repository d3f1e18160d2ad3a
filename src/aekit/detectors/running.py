"""Where a new score stands among recent ones: the running distribution behind a stream's
``unusual`` column, usable with any causal score, and how often a healthy stream's statistic
reaches each level (its ``surprise`` and the alarm level for a false-alarm rate)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import InvalidInputError
from .calibration import Calibration


class RunningScores:
    """Where each new score stands among the last ``history`` scores, in standard deviations.

    ``update`` returns z = (mean of the last ``smoothing`` scores - mean of the last
    ``history`` scores before this one) / their standard deviation; ``unusual(z)`` turns it
    into [0, 1]. The distribution starts from ``initial`` scores (a healthy period's), so the
    first new score already has one to be compared with; ``recent``, the scores just before the
    first new one, start the smoothing window (default: empty). Any causal score works: the NAB
    benchmark puts its baselines through it too.
    """

    def __init__(self, initial, *, history: int = 2000, smoothing: int = 10, recent=()):
        self.history = history
        self._scores = deque(np.asarray(initial, dtype=np.float64)[-history:].tolist(), maxlen=history)
        if not self._scores:
            raise InvalidInputError("the running distribution needs at least one initial score")
        self._recount()
        self._recent: deque[float] = deque(np.asarray(recent, dtype=np.float64).tolist(), maxlen=smoothing)
        self._updates = 0

    @property
    def scores(self) -> np.ndarray:
        """The last ``history`` scores, oldest first: the distribution the next score meets."""
        return np.array(self._scores)

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


def episodes(z: np.ndarray, level: float, end: float, inside: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(alarm, in_episode) per row of the statistic ``z``: an episode starts on a row at or above
    ``level`` (its alarm) and lasts while ``z`` stays above ``end`` (<= ``level``), so a
    statistic that wavers around the level raises one alarm, not one per crossing. ``inside``:
    whether the row before the first was in an episode. NaN ends an episode."""
    z = np.asarray(z, dtype=np.float64)
    rows = np.arange(len(z))
    starts = z >= level
    ends = ~starts & ~(z > end)  # at or below the end, or NaN
    # A row is in an episode when a row at the level came since the last row at the end (a
    # latch, without a loop over rows: the stream and its calibration call this on every block).
    last_start = np.maximum.accumulate(np.where(starts, rows, -1)) if len(z) else rows
    last_end = np.maximum.accumulate(np.where(ends, rows, -1)) if len(z) else rows
    in_episode = (last_start > last_end) | (inside & (last_end < 0))
    before = np.concatenate([[inside], in_episode[:-1]])
    return starts & ~before, in_episode


# The clustering of exceedances (alarm episodes per row above a level) is measured at a level
# where at least MIN_CLUSTER_EXCEEDANCES replayed rows lie above it; beyond the replay's rows it
# is the clustering above this quantile (or the MIN_CLUSTER_EXCEEDANCES-th highest row).
CLUSTER_QUANTILE = 0.98
MIN_CLUSTER_EXCEEDANCES = 10
LEVEL_GRID = np.linspace(0.5, 1.0, 201)  # the replay's quantiles a level is looked for among


@dataclass(frozen=True, eq=False)  # holds an array: compared by identity
class StreamCalibration:
    """How often a healthy stream's statistic ``z`` (:class:`RunningScores`) reaches each level,
    from a replay of the healthy period: ``surprise`` (-log10 of the share of healthy rows at
    least as unusual, with a fitted tail beyond the highest; it does not saturate as ``unusual``
    does), and the level that raises a given number of false alarms per row.

    Alarms are episodes: a smoothed statistic stays high for several rows, so episodes start
    less often than rows exceed a level, and the lower the level, the longer its episodes. The
    level for ``r`` false alarms per row is the lowest one whose episodes are expected to start
    at most ``r`` times per healthy row: the share of healthy rows above it (``calibration``)
    times the episodes per such row, counted at that level on the replay (``replay``), or, for
    levels above all but a few replayed rows, ``clustering``, the extremal index measured above
    the replay's 98th percentile. The replay is not held out from training (a stream's healthy
    period is what its model learnt), and a stream's rows are not exchangeable (time order,
    drift): the rate is an estimate, which benchmarks/stream_alarms.py measures on NAB's series.
    """

    calibration: Calibration
    clustering: float
    replay: np.ndarray  # the healthy statistic, in time order
    episode_end: float = math.inf

    @classmethod
    def fit(cls, z, *, smoothing: int, episode_end: float = math.inf) -> StreamCalibration:
        """From the statistic of a healthy period's replay (``z``, in time order); an episode
        lasts while the statistic stays above ``episode_end`` (see :func:`episodes`)."""
        z = np.asarray(z, dtype=np.float64)[smoothing - 1:]  # a mean of fewer scores is noisier
        z = z[np.isfinite(z)]
        if len(z) < 2:
            raise InvalidInputError("the healthy period gives too few scores to calibrate the stream's "
                                    "alarms")
        u = np.quantile(z, CLUSTER_QUANTILE)
        if (z > u).sum() < MIN_CLUSTER_EXCEEDANCES:
            u = np.sort(z)[max(0, len(z) - MIN_CLUSTER_EXCEEDANCES - 1)]
        clustering = _clustering(z, np.nextafter(u, math.inf), episode_end)
        return cls(Calibration.fit(z), min(1.0, max(clustering, 1.0 / smoothing)), z, episode_end)

    def surprise(self, z) -> np.ndarray:
        """``-log10`` of the share of healthy rows whose statistic is at least ``z`` (NaN stays NaN)."""
        z = np.asarray(z, dtype=np.float64)
        out = np.full(z.shape, np.nan)
        known = ~np.isnan(z)
        out[known] = self.calibration.surprise(z[known])
        return out

    def level(self, false_alarms_per_row: float) -> float:
        """The lowest level of the statistic whose episodes are expected to start at most
        ``false_alarms_per_row`` times per healthy row."""
        if not 0 < false_alarms_per_row < 1:
            raise InvalidInputError(f"false alarms per row must be in (0, 1), got {false_alarms_per_row!r}")
        for level in np.unique(np.quantile(self.replay, LEVEL_GRID))[:-1]:
            if self.episode_rate(level) <= false_alarms_per_row:
                return float(level)
        # Rarer than the replay resolves: the fitted tail, and the clustering at its highest rows.
        return self.calibration.threshold(min(0.5, false_alarms_per_row / self.clustering))

    def episode_rate(self, level: float) -> float:
        """Expected episode starts per healthy row at ``level``."""
        share = float(self.calibration.p_value(np.array([level]))[0])
        if (self.replay >= level).sum() < MIN_CLUSTER_EXCEEDANCES:
            return share * self.clustering
        return share * min(1.0, _clustering(self.replay, level, self.episode_end))


def _clustering(z: np.ndarray, level: float, episode_end: float) -> float:
    """Episode starts per row at or above ``level`` in the statistic ``z`` (1 where none is)."""
    above = z >= level
    if not above.any():
        return 1.0
    starts, _ = episodes(z, level, min(episode_end, level))
    return float(starts.sum() / above.sum())
