"""Where a new score stands among recent ones: the running distribution behind a stream's
``unusual`` column, usable with any causal score."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from scipy import special

from ..errors import InvalidInputError


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
