"""A stream's second view: how far each new value stands from the values just before it.

The model judges a window of ``window`` rows by how well it rebuilds it. Some incidents show at
a longer horizon than that window, as a value far outside its recent range (a spike after a
quiet spell, a sudden level on a slowly moving signal), which a model trained on a short healthy
period may rebuild well enough. :class:`ContextView` scores every row, per value column, by
``|x - mean| / std`` of the ``context`` rows before it (several model windows long), a
statistic with nothing to train; :class:`~aekit.detectors.StreamDetector` puts it through a
running distribution of its own, like the model's score, and alarms on whichever view is
more unusual (benchmarks/nab.py measures what the view adds).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

CONTEXT_WINDOWS = 4  # the view's default context, in model windows
BLOCK_ROWS = 1024  # rows scored per step: bounds the (rows, channels, context) view in memory


class ContextView:
    """Per row and value column: ``|x - mean| / std`` of the column's ``context`` rows before it.

    ``normal`` (a healthy period's rows, (n, channels)) gives the first rows' context and
    ``healthy_scores_``, the scores of the healthy rows that have a full context before them. A
    column that is constant over a context scores 0 where the new value equals it, and the
    deviation in units of a thousandth of the column's healthy standard deviation otherwise
    (so a flat signal that moves is an event, and not an infinite one).
    """

    def __init__(self, normal: np.ndarray, context: int):
        normal = np.asarray(normal, dtype=np.float64)
        if context < 2 or context >= len(normal):
            raise InvalidInputError(f"the context view needs 2 <= context < the healthy period's "
                                    f"{len(normal)} rows, got {context}")
        self.context = context
        spread = normal.std(axis=0)
        self._floor = 1e-3 * np.where(spread > 0, spread, 1.0)  # the smallest deviation unit per column
        self._past = normal[:context]
        self.healthy_scores_ = self.update_many(normal[context:])

    @property
    def past(self) -> np.ndarray:
        """The rows the next row is compared with, oldest first."""
        return self._past.copy()

    def update_many(self, rows: np.ndarray) -> np.ndarray:
        """The scores ((n, channels)) of consecutive new rows, each against the rows before it."""
        rows = np.asarray(rows, dtype=np.float64)
        out = np.empty(rows.shape)
        for start in range(0, len(rows), BLOCK_ROWS):
            block = rows[start:start + BLOCK_ROWS]
            series = np.concatenate([self._past, block])
            before = np.lib.stride_tricks.sliding_window_view(series[:-1], self.context, axis=0)
            mean, std = before.mean(axis=-1), before.std(axis=-1)  # (n, channels) each
            out[start:start + len(block)] = np.abs(block - mean) / np.maximum(std, self._floor)
            self._past = series[-self.context:]
        return out
