"""What every data source returns: arrays plus what is needed to map results back to the input."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Windows:
    """How sliding windows over a time series map back to its timestamps.

    Window ``i`` covers rows ``starts[i] .. starts[i] + length - 1`` of the series.
    """

    timestamps: np.ndarray  # (T,) the series' timestamps, in file order
    starts: np.ndarray  # (n_windows,) first row of each window
    length: int
    values: np.ndarray | None = None  # (T, channels) the series itself, for plots
    columns: tuple[str, ...] | None = None  # the value columns' names, one per channel

    def spans(self, selected) -> list[tuple]:
        """(first, last) timestamps of runs of overlapping selected windows, merged."""
        spans: list[list[int]] = []
        for i in np.flatnonzero(selected):
            start, end = self.starts[i], self.starts[i] + self.length - 1
            if spans and start <= spans[-1][1] + 1:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        return [(self.timestamps[a], self.timestamps[b]) for a, b in spans]

    @property
    def channels(self) -> int:
        """Value columns per timestamp."""
        return 1 if self.values is None or np.ndim(self.values) == 1 else int(self.values.shape[1])

    def window_timestamps(self, i: int) -> np.ndarray:
        return self.timestamps[self.starts[i]:self.starts[i] + self.length]

    def to_series(self, window_values, reduce: str = "mean") -> np.ndarray:
        """Per-timestamp values from per-window values (e.g. anomaly scores).

        Each timestamp gets the mean (or max) over the windows that cover it; NaN where no
        window does (the tail a stride skipped). ``reduce="last"`` is the causal choice: each
        timestamp gets the value of the window that ends there, which saw nothing after it
        (NaN where no window ends: the first ``length - 1`` rows, and those a stride skips).
        """
        values = np.asarray(window_values, dtype=np.float64)
        if values.shape != self.starts.shape:
            raise ValueError(f"expected one value per window ({len(self.starts)}), got {values.shape}")
        if reduce == "last":
            out = np.full(len(self.timestamps), np.nan)
            out[self.starts + self.length - 1] = values
            return out
        covered = self.starts[:, None] + np.arange(self.length)  # (n_windows, length)
        rows, vals = covered.ravel(), np.repeat(values, self.length)
        if reduce == "max":
            out = np.full(len(self.timestamps), -np.inf)
            np.maximum.at(out, rows, vals)
            out[np.isneginf(out)] = np.nan
            return out
        sums = np.bincount(rows, weights=vals, minlength=len(self.timestamps))
        counts = np.bincount(rows, minlength=len(self.timestamps))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / counts, np.nan)


@dataclass
class Dataset:
    """Samples ``X`` ((n, features) or (n, C, H, W)), optional labels, ids and provenance. ``X``
    is an array, or a ``stream.DiskArray`` read from disk a batch at a time."""

    X: np.ndarray
    y: np.ndarray | None = None
    name: str = "data"
    ids: np.ndarray | None = None  # carried through to per-sample outputs
    feature_names: list[str] | None = None
    factors: dict[str, np.ndarray] = field(default_factory=dict)  # generative factors (shapes)
    windows: Windows | None = None  # set for time-series windows

    def __post_init__(self):
        for what, values in (("y", self.y), ("ids", self.ids)):
            if values is not None and len(values) != len(self.X):
                raise ValueError(f"{what} has {len(values)} entries for {len(self.X)} samples")

    def __len__(self) -> int:
        return len(self.X)
