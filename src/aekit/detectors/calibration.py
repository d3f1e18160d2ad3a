"""How surprising a score is: a tail probability calibrated on held-out normal scores.

A raw anomaly score has no unit a user can act on. Given the scores of ``n`` normal inputs the
model did not train on, the conformal p-value of a new score ``s`` is the share of them at
least as high, ``(1 + #{v >= s}) / (n + 1)``: under exchangeability (new normal inputs are like
the held-out ones) a normal input gets ``p <= a`` with probability at most ``a``, whatever the
score's distribution. It cannot go below ``1 / (n + 1)``, though, so every input beyond the
highest held-out score would look equally surprising, and a false-alarm rate below
``1 / (n + 1)`` could not be asked for. Above a high held-out score ``u`` the p-value therefore
follows a generalised Pareto tail fitted to the held-out scores' exceedances of ``u`` (peaks
over threshold, as extreme-value theory justifies for the excesses of almost any distribution;
Siffer et al., KDD 2017, use it to set alarm thresholds on streams). Its shape is estimated by
the method of moments, stable with few exceedances, and kept >= 0 so that the tail never ends
(a bounded tail would make scores beyond it infinitely surprising) and errs on the heavy side,
where it raises fewer alarms rather than more.

The surprise ``-log10 p`` is what a table shows: 2 means one normal input in a hundred scores
this high, 6 one in a million (the latter extrapolated by the tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import genpareto

# The tail starts where this share of the held-out scores (at least MIN_EXCEEDANCES of them)
# lies above it.
TAIL_SHARE = 0.1
MIN_EXCEEDANCES = 10
MAX_SHAPE = 0.45  # the method of moments needs a finite variance (shape < 0.5)


@dataclass(frozen=True)
class Calibration:
    """Held-out normal scores and the tail fitted to their highest."""

    scores: np.ndarray  # sorted ascending
    tail_start: float  # u
    n_exceeding: int  # held-out scores above u
    shape: float  # the generalised Pareto tail of the excesses over u
    scale: float

    @classmethod
    def fit(cls, scores) -> Calibration:
        """From the scores of held-out normal inputs (at least two, finite)."""
        scores = np.sort(np.asarray(scores, dtype=np.float64).ravel())
        if len(scores) < 2 or not np.isfinite(scores).all():
            raise ValueError("calibration needs at least two finite scores of normal inputs")
        n = len(scores)
        k = min(n - 1, max(MIN_EXCEEDANCES, math.ceil(TAIL_SHARE * n)))
        u = float(scores[n - k - 1])
        excess = scores[scores > u] - u
        shape, scale = _moments(excess)
        return cls(scores, u, len(excess), shape, scale)

    @property
    def n(self) -> int:
        return len(self.scores)

    def p_value(self, s) -> np.ndarray:
        """The probability that a normal input scores at least ``s`` (conformal below the tail's
        start, the fitted tail above it)."""
        s = np.asarray(s, dtype=np.float64)
        flat = s.reshape(-1)
        at_least = self.n - np.searchsorted(self.scores, flat, side="left")
        p = (1.0 + at_least) / (self.n + 1)
        above = flat > self.tail_start
        if self.n_exceeding and above.any():
            tail = genpareto.sf(flat[above] - self.tail_start, self.shape, scale=self.scale)
            p[above] = (1.0 + self.n_exceeding) / (self.n + 1) * tail
        return np.clip(p, np.finfo(np.float64).tiny, 1.0).reshape(s.shape)

    def surprise(self, s) -> np.ndarray:
        """``-log10`` of the p-value: 2 for one normal input in a hundred, 3 for one in a thousand."""
        return -np.log10(self.p_value(s))

    def threshold(self, false_alarm_rate: float) -> float:
        """The score above which a normal input is flagged with probability ``false_alarm_rate``:
        the conformal order statistic where the held-out scores resolve that rate, else the
        fitted tail's quantile."""
        n, a = self.n, false_alarm_rate
        if a * (n + 1) >= 1 + self.n_exceeding or not self.n_exceeding:
            rank = min(n, math.ceil((n + 1) * (1 - a)))  # 1-based; above it, p <= a
            return float(self.scores[rank - 1])
        share = a * (n + 1) / (1.0 + self.n_exceeding)  # of the tail's mass
        return self.tail_start + float(genpareto.isf(share, self.shape, scale=self.scale))

    def describe(self) -> dict:
        return {"held_out_scores": self.n, "tail_start": self.tail_start,
                "tail_exceedances": self.n_exceeding, "tail_shape": self.shape, "tail_scale": self.scale}


def _moments(excess: np.ndarray) -> tuple[float, float]:
    """Method-of-moments generalised Pareto parameters of ``excess`` (Hosking & Wallis 1987),
    the shape clipped to [0, MAX_SHAPE]."""
    if len(excess) == 0:
        return 0.0, 1.0
    mean = float(excess.mean())
    var = float(excess.var(ddof=1)) if len(excess) > 1 else mean**2
    if mean <= 0:
        return 0.0, 1e-12
    shape = 0.5 * (1 - mean**2 / var) if var > 0 else 0.0
    shape = min(max(shape, 0.0), MAX_SHAPE)
    scale = mean * (1 - shape)  # the mean excess of a GPD is scale / (1 - shape)
    return shape, max(scale, 1e-12)
