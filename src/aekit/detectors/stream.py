"""Watching a live series: score each row as it arrives, from the window of rows that ends there.

:class:`StreamDetector` wraps a model trained on sliding windows of a healthy period (``aekit
train --window W`` or an estimator fitted on such windows). Per row it emits

* ``score``: the model's anomaly score of the window ending at that row, by default its
  reconstruction error on the window's newest rows (``newest_rows``; causal by construction:
  the window holds that row and the ones before it, never a later one);
* ``unusual``: how unusual the recent scores are, in [0, 1]: the mean of the last ``smoothing``
  scores, placed on a Gaussian fitted to the last ``history`` scores (its CDF). This is
  Numenta's "anomaly likelihood" idea (Ahmad et al., 2017), which NAB's best detectors use: a
  score's meaning is relative to the scores the series usually gets, and the running
  distribution absorbs a lasting change of level (drift) instead of alarming on it forever;
* ``surprise``: the same statistic as ``-log10`` of the share of the healthy period's rows at
  least as unusual (a replay of it; a fitted tail beyond its highest), which keeps growing
  where ``unusual`` prints 1 (``running.StreamCalibration``);
* ``alarm``: True on the row where ``unusual`` reaches ``alarm_level``: one alarm per
  episode, not one per row of it. An episode lasts until ``unusual`` falls to
  ``episode_end`` (by default 0.5: the statistic back at its usual mean), so a statistic that
  wavers around the level raises one alarm. With ``false_alarm_rate``, the level is instead
  the one whose episodes start that often per row on the healthy period's replay;
* ``channel`` and ``channel_share``, on alarm rows: the value column that carries the largest
  share of the alarm window's score above the healthy windows' mean (``AnomalyDetector.explain``),
  and that share.

Two views are watched, each through a running distribution of its own, and the statistic is
the more unusual of them: the model's score, and (``context``) how far each value stands from
the values of the last few model windows (:class:`~aekit.detectors.ContextView`), which finds
incidents that show at a longer horizon than the model's window: on NAB's series the context
view and episodes that end at the running mean raised the standard score of the ``alarm``
column from 62.2 to 68.0, and scoring each window's newest rows to 74.7 (benchmarks/nab.py).

The running distributions start from the healthy period's scores, so alarms are possible from
the first full window. Scoring rows one at a time or many at once gives the same numbers.

Continual learning (``refit_every=N``): every N rows, a copy of the model is fine-tuned in a
background thread on the windows of the last ``history`` rows that were in no alarm episode
(``BaseAutoEncoder.fine_tune``), so a machine whose normal slowly changes (wear, seasons, a new
load) keeps a model of its present normal, and the distribution is not left wider and wider
by the old model's growing errors. The copy takes over N rows after it started, at that exact
row (waiting for it if it is not done): training has N rows' time, and a replay of a recording
gives the numbers the live run gave, however fast the rows come. At the swap, the running
distribution and the smoothing window are refilled with the new model's scores of the recent
windows, as if it had been watching all along: a swap alone raises no alarm.
"""

from __future__ import annotations

import copy
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from scipy import special

from ..data.layout import window_layout
from ..errors import InvalidInputError
from ..estimators import inference_batch_size
from .anomaly import AnomalyDetector
from .context import CONTEXT_WINDOWS, ContextView
from .running import RunningScores, StreamCalibration, episodes, unusual

# Windows per model call while streaming, every call padded to it (one shape, so scores do not
# depend on how rows are grouped). Larger calls stream blocks faster and single rows slower; at
# 256 the temporal VAE does 15,058 rows/s in blocks and 60 one at a time (benchmarks/nab.py),
# and a row every 17 ms is still far quicker than machines report.
STREAM_BATCH_ROWS = 256
NEWEST_SHARE = 6  # newest_rows="auto": the newest sixth of each window
MIN_REFIT_WINDOWS = 100  # fewer healthy recent windows than this: keep the model as it is


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
        The window's anomaly score, as :class:`AnomalyDetector`'s ``score``, except that "auto"
        is the reconstruction error for every model: on NAB's series the temporal VAE found as
        much by it as by its importance-sampled -log p(x) (standard score 61.1 against 61.0),
        and streamed 5.5x as many rows per second (benchmarks/nab.py).
    newest_rows : int, "auto" or None, default="auto"
        How many of each window's newest rows the model's score sums (the reconstruction
        error there): the rows the stream has just received. A whole window's error mixes
        them with rows already judged, so an incident's first rows move it less, and it stays
        high for as long as the incident is anywhere in the window, merging incidents that
        follow each other. "auto": a sixth of the window (5 rows of 32); None: the whole
        window. Only the reconstruction error is a sum over rows: with another ``score``,
        "auto" means the whole window. On NAB's series the newest sixth raised the standard
        score of the ``alarm`` column from 68.0 to 74.7 (benchmarks/nab.py).
    history : int, default=2000
        How many recent scores the running distribution holds: about how long a lasting
        change takes to become the new normal.
    smoothing : int, default=10
        How many recent scores are averaged before they are compared: one odd window is
        noise, a run of them is an event.
    alarm_level : float, default=0.9999
        ``unusual`` at or above which an alarm episode starts; its first row raises the alarm.
    episode_end : float, default=0.5
        ``unusual`` at or below which an episode ends (0.5: the statistic back at its running
        mean); ``alarm_level`` ends it as soon as it drops below the level.
    context : int, "auto" or None, default="auto"
        The context view: each row's values against the ``context`` rows before them
        (``|x - mean| / std`` per value column). "auto": four model windows, at most half the
        healthy period; None: the model's score alone.
    refit_every : int or None, default=None
        Continual learning: fine-tune a copy of the model every this many rows on the recent
        rows that raised no alarm, in the background; it takes over ``refit_every`` rows later.
        None: the model stays as given.
    refit_steps : int, default=200
        Optimisation steps of each fine-tuning (``fine_tune(steps=...)``).
    channel_names : list of str or None, default=None
        The value columns' names, which ``channel`` reports (default: ``c0, c1, ...``).
    false_alarm_rate : float or None, default=None
        False alarms accepted per row (e.g. ``1 / 2880``: one a day at a row every 30 s): the
        alarm level is set from the healthy period's replay to raise that many; ``alarm_level``
        is then not used. None: ``alarm_level`` decides.

    Attributes
    ----------
    refits_ : list of dict
        One entry per model that took over: the ``row`` (counted from the first row given)
        where it did, the healthy ``windows`` it was tuned on and the ``seconds`` it took.

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
    (['alarm', 'channel', 'channel_share', 'score', 'surprise', 'unusual'], 100)
    """

    def __init__(self, model, normal, *, score: str = "auto", history: int = 2000, smoothing: int = 10,
                 alarm_level: float = 0.9999, episode_end: float = 0.5, context="auto",
                 newest_rows="auto", refit_every: int | None = None, refit_steps: int = 200,
                 channel_names=None, false_alarm_rate: float | None = None):
        _check_settings(history, smoothing, alarm_level, episode_end, false_alarm_rate, refit_every,
                        refit_steps)
        normal = _as_rows(normal)
        self.channels = normal.shape[1]
        self.window, self.sequences = window_layout(model.input_shape_, self.channels)
        if len(normal) < self.window + 1:
            raise InvalidInputError(f"the healthy period has {len(normal)} rows: at least {self.window + 1} "
                                    f"are needed for windows of {self.window}")
        self.channel_names = [f"c{i}" for i in range(self.channels)] if channel_names is None else \
            [str(name) for name in channel_names]
        if len(self.channel_names) != self.channels:
            raise InvalidInputError(f"{len(self.channel_names)} channel names for {self.channels} value "
                                    "column(s)")
        self.model, self.score = model, "reconstruction" if score == "auto" else score
        self.newest_rows = newest_rows
        self.newest_rows_ = self._newest_rows(newest_rows)
        self.history, self.smoothing, self.alarm_level = history, smoothing, alarm_level
        self.refit_every, self.refit_steps = refit_every, refit_steps
        # The model's own score, without neighbour distances: the healthy windows overlap
        # their neighbours in time, so their distances would be smaller than a new window's.
        # The running distribution starts from every healthy window's score; `unusual` and the
        # alarm level are the stream's own policy, not the batch detector's threshold.
        windows = self._windows(normal)
        with inference_batch_size(STREAM_BATCH_ROWS):  # the scores the stream's will be compared with
            self.detector_ = AnomalyDetector.from_fitted(model, windows, score=self.score, n_neighbors=None,
                                                         device=model.device, scored_dims=self._scored_dims(),
                                                         calibration_rows=np.arange(len(windows)))
        self.running_ = RunningScores(self.detector_.validation_scores_, history=history,
                                      smoothing=smoothing)
        self.context_view_, self.context_running_ = self._context_view(normal, context)
        self.episode_end = episode_end
        self.calibration_ = StreamCalibration.fit(self._healthy_statistic(), smoothing=smoothing,
                                                  episode_end=_as_z(episode_end))
        self.false_alarm_rate = false_alarm_rate
        # The statistic's alarm level: set by the false-alarm rate, or where `unusual` reaches alarm_level.
        self.alarm_z_ = self.calibration_.level(false_alarm_rate) if false_alarm_rate is not None else None
        self._buffer = np.empty((0, self.channels), dtype=np.float32)
        self._in_episode = False  # whether the last row was in an alarm episode
        # Continual learning: the recent rows and whether each was in an alarm episode.
        self._rows_seen = 0
        self._recent = np.empty((0, self.channels), dtype=np.float32)
        self._recent_in_episode = np.empty(0, dtype=bool)
        self._refit: _Refit | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.refits_: list[dict] = []

    def _newest_rows(self, newest_rows) -> int | None:
        """How many newest rows of a window the score sums (None: all of them)."""
        if newest_rows == "auto":
            rows = max(1, self.window // NEWEST_SHARE)
            return rows if self.score == "reconstruction" and rows < self.window else None
        if newest_rows is None:
            return None
        if not _is_int(newest_rows) or not 1 <= newest_rows <= self.window:
            raise InvalidInputError(f"newest_rows must be an integer from 1 to the window's {self.window} "
                                    f"rows, 'auto' or None (the whole window; `aekit watch "
                                    f"--newest-rows all`), got {newest_rows!r}")
        if self.score != "reconstruction":
            raise InvalidInputError(f"newest_rows needs the reconstruction score (a sum over rows), not "
                                    f"score={self.score!r}")
        return None if newest_rows == self.window else newest_rows

    def _scored_dims(self) -> np.ndarray | None:
        """The mask of a window's values the score sums, in the model's input shape."""
        if self.newest_rows_ is None:
            return None
        mask = np.zeros((self.channels, self.window), dtype=bool)
        mask[:, -self.newest_rows_:] = True
        return mask if self.sequences else mask.reshape(-1)  # flat windows: channel after channel

    def _context_view(self, normal: np.ndarray, context):
        """The context view over the healthy rows and a running distribution per value column
        (None, [] without one)."""
        if context == "auto":
            context = min(CONTEXT_WINDOWS * self.window, len(normal) // 2)
            if context < 2:
                return None, []
        elif context is None:
            return None, []
        elif not _is_int(context):
            raise InvalidInputError(f"context must be an integer number of rows, 'auto' or None, got "
                                    f"{context!r}")
        view = ContextView(normal, context)
        return view, [RunningScores(scores, history=self.history, smoothing=self.smoothing)
                      for scores in view.healthy_scores_.T]

    def _healthy_statistic(self) -> np.ndarray:
        """The statistic over a replay of the healthy period: each view's own running
        distribution replayed on its healthy scores, the more unusual view per row (aligned at
        the period's last row)."""
        scores = self.detector_.validation_scores_
        z = RunningScores(scores, history=self.history, smoothing=self.smoothing).update_many(scores)
        if self.context_view_ is None:
            return z
        healthy = self.context_view_.healthy_scores_
        n = min(len(z), len(healthy))
        replay = [RunningScores(healthy[:, c], history=self.history, smoothing=self.smoothing)
                  .update_many(healthy[:, c]) for c in range(self.channels)]
        return np.maximum.reduce([z[-n:], *(r[-n:] for r in replay)])

    def update(self, row) -> dict:
        """Take one row (its value columns) and return its ``score``, ``unusual``, ``surprise``,
        ``alarm``, ``channel`` and ``channel_share`` (NaN, NaN, NaN, False, "" and NaN while the
        first window fills; the channel only on an alarm row)."""
        return {key: values[0] for key, values in self.update_many(np.reshape(row, (1, -1))).items()}

    def update_many(self, rows) -> dict[str, np.ndarray]:
        """Take consecutive rows ((n, channels) or (n,)) and return per row ``score``,
        ``unusual``, ``surprise``, ``alarm``, ``channel`` and ``channel_share`` arrays, exactly as
        ``update`` row by row would."""
        rows = _as_rows(rows)
        if rows.shape[1] != self.channels:
            raise InvalidInputError(f"expected rows of {self.channels} value column(s), got {rows.shape[1]}")
        if self.refit_every is None:
            return self._update(rows)
        parts, start = [], 0
        while start < len(rows):  # split at the refit rows, where the model may change
            stop = min(len(rows), start + self.refit_every - self._rows_seen % self.refit_every)
            parts.append(self._update(rows[start:stop]))
            start = stop
            if self._rows_seen % self.refit_every == 0:
                self._take_over()
                self._start_refit()
        if not parts:
            return self._update(rows)
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def close(self) -> None:
        """Stop continual learning: a fine-tuning under way stops at its next epoch."""
        if self._refit is not None:
            self._refit.cancel.set()
            self._refit = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _update(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        series = np.concatenate([self._buffer, rows])
        first = max(self.window - 1 - len(self._buffer), 0)  # rows before it still fill the first window
        scores = np.full(len(rows), np.nan)
        windows = self._windows(series) if len(series) >= self.window else None
        if windows is not None:
            scores[first:] = self._score(windows)
        self._buffer = series[-(self.window - 1):]
        z, context_z, deviation = self.running_.update_many(scores), None, None
        if self.context_view_ is not None:
            deviation = self.context_view_.update_many(rows)
            context_z = np.stack([running.update_many(deviation[:, c])
                                  for c, running in enumerate(self.context_running_)], axis=1)
            z = np.maximum(z, context_z.max(axis=1))  # NaN (no full window yet) stays NaN
        level = unusual(z)
        if self.alarm_z_ is None:
            alarm, in_episode = episodes(level, self.alarm_level, self.episode_end, self._in_episode)
        else:  # the level for a false-alarm rate
            alarm, in_episode = episodes(z, self.alarm_z_, min(_as_z(self.episode_end), self.alarm_z_),
                                         self._in_episode)
        self._in_episode = bool(in_episode[-1]) if len(in_episode) else self._in_episode
        channel, share = self._alarm_channels(alarm, windows, first, z, context_z, deviation)
        self._rows_seen += len(rows)
        if self.refit_every is not None:
            keep = self.history + self.window - 1  # the rows of the last `history` windows
            self._recent = np.concatenate([self._recent, rows])[-keep:]
            self._recent_in_episode = np.concatenate([self._recent_in_episode, in_episode])[-keep:]
        return {"score": scores, "unusual": level, "surprise": self.calibration_.surprise(z),
                "alarm": alarm, "channel": channel, "channel_share": share}

    def _alarm_channels(self, alarm, windows, first, z, context_z, deviation):
        """Per alarm row, the value column the alarm owes most to, and its share: of the
        window's score where the model's view raised it, of the rows' deviations where the
        context view did."""
        channel, share = np.full(len(alarm), "", dtype=object), np.full(len(alarm), np.nan)
        at = np.flatnonzero(alarm)
        if not len(at):
            return channel, share
        by_context = np.zeros(len(at), dtype=bool) if context_z is None else \
            context_z[at].max(axis=1) >= z[at]
        if (~by_context).any():
            model_rows = at[~by_context]
            channel[model_rows], share[model_rows] = self._top_channels(windows[model_rows - first])
        for row in at[by_context]:
            c = int(np.argmax(context_z[row]))
            total = max(float(deviation[row].sum()), 1e-300)  # > 0 where it raised an alarm
            channel[row], share[row] = self.channel_names[c], deviation[row, c] / total
        return channel, share

    def _top_channels(self, windows: np.ndarray) -> tuple[list[str], np.ndarray]:
        with inference_batch_size(STREAM_BATCH_ROWS):
            explanation = self.detector_.explain(windows, channels=None if self.sequences else self.channels)
        shares = explanation.shares()
        top = shares.argmax(axis=1)
        return [self.channel_names[c] for c in top], shares[np.arange(len(top)), top]

    def _start_refit(self) -> None:
        """Fine-tune a copy of the model on the recent windows that hold no alarmed row."""
        if len(self._recent) < self.window + MIN_REFIT_WINDOWS:
            return
        windows = self._windows(self._recent)
        alarmed = np.lib.stride_tricks.sliding_window_view(self._recent_in_episode, self.window).any(axis=1)
        windows = windows[~alarmed]
        if len(windows) < MIN_REFIT_WINDOWS:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="aekit-refit")
        # Copied here, between two scoring calls, not while the live model is in use.
        tuned = copy.deepcopy(self.model).set_params(verbose=0)
        self._refit = _Refit(len(windows), threading.Event())
        self._refit.future = self._pool.submit(self._fine_tuned, tuned, windows, self._refit.cancel)

    def _fine_tuned(self, model, windows: np.ndarray, cancel: threading.Event):
        start = time.perf_counter()
        model.fine_tune(windows, steps=self.refit_steps, callbacks=[_StopWhenSet(cancel)])
        with inference_batch_size(STREAM_BATCH_ROWS):  # the shape its stream scores will have
            detector = AnomalyDetector.from_fitted(model, windows, score=self.score, n_neighbors=None,
                                                   device=model.device, scored_dims=self._scored_dims())
        return model, detector, time.perf_counter() - start

    def _take_over(self) -> None:
        """The fine-tuned copy replaces the model (waiting for it if it is not done)."""
        refit, self._refit = self._refit, None
        if refit is None:
            return
        try:
            model, detector, seconds = refit.future.result()
        except Exception as exc:  # noqa: BLE001 (a failed refit must not stop the watch)
            warnings.warn(f"continual learning: the fine-tuning that was to take over at row "
                          f"{self._rows_seen} failed ({exc}); the current model goes on", stacklevel=3)
            return
        self.model, self.detector_ = model, detector
        # The new model's scores of the recent windows, alarmed ones included, as if it had
        # watched them: the running distribution and the smoothing go on without a jump. (Its
        # scores of only the windows it was tuned on would be too low a baseline, and an empty
        # smoothing window too noisy a first score: both raised alarms at the swap.)
        recent = self._score(self._windows(self._recent))
        self.running_ = RunningScores(recent, history=self.history, smoothing=self.smoothing,
                                      recent=recent[-self.smoothing:])
        self.refits_.append({"row": self._rows_seen, "windows": refit.windows, "seconds": round(seconds, 2)})

    def _score(self, windows: np.ndarray) -> np.ndarray:
        # Padding each call to the model's throughput-sized batch (thousands of windows) would
        # cost ~100 ms a row when rows come one at a time.
        with inference_batch_size(STREAM_BATCH_ROWS):
            return self.detector_.anomaly_score(windows)

    def export_manifest(self) -> dict:
        """What an exported stream needs besides the score graph (``aekit-onnx.json``'s
        ``"stream"``): the window layout, the running distribution's settings, and where it stands
        (the healthy scores for a stream that has seen no row, the new model's recent scores after
        a continual-learning swap)."""
        view = self.context_view_
        return {"window": self.window, "channels": self.channels, "sequences": self.sequences,
                "newest_rows": self.newest_rows_,
                "history": self.history, "smoothing": self.smoothing, "alarm_level": self.alarm_level,
                "episode_end": self.episode_end, "false_alarm_rate": self.false_alarm_rate,
                "alarm_z": self.alarm_z_,
                "initial_scores": self.running_.scores.tolist(),
                "context": None if view is None else view.context,
                "context_rows": None if view is None else view.past.tolist(),
                "context_initial_scores": [running.scores.tolist() for running in self.context_running_]}

    def _windows(self, series: np.ndarray) -> np.ndarray:
        """The model's inputs for every full window of ``series`` (T, channels)."""
        windows = np.lib.stride_tricks.sliding_window_view(series, self.window, axis=0)  # (n, C, W)
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        return windows if self.sequences else windows.reshape(len(windows), -1)


class _Refit:
    """A fine-tuning under way: its healthy windows, its stop signal and its result."""

    def __init__(self, windows: int, cancel: threading.Event):
        self.windows, self.cancel = windows, cancel
        self.future: Future | None = None


class _Cancelled(Exception):
    pass


class _StopWhenSet:
    """A training callback that ends the fine-tuning at the next epoch once ``event`` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def on_epoch_end(self, report) -> None:
        if self.event.is_set():
            raise _Cancelled


def _check_settings(history, smoothing, alarm_level, episode_end, false_alarm_rate, refit_every,
                    refit_steps) -> None:
    if not _is_int(history) or history < 2 or not _is_int(smoothing) or smoothing < 1:
        raise InvalidInputError(f"history must be an integer >= 2 and smoothing >= 1, got {history!r} "
                                f"and {smoothing!r}")
    if not 0 < alarm_level <= 1:
        raise InvalidInputError(f"alarm_level must be in (0, 1], got {alarm_level!r}")
    if not 0 < episode_end <= alarm_level:
        raise InvalidInputError(f"episode_end must be in (0, alarm_level], got {episode_end!r}")
    if false_alarm_rate is not None and not 0 < false_alarm_rate < 1:
        raise InvalidInputError(f"false_alarm_rate (false alarms per row) must be in (0, 1), got "
                                f"{false_alarm_rate!r}")
    if refit_every is not None and (not _is_int(refit_every) or refit_every < 1):
        raise InvalidInputError(f"refit_every must be None or an integer >= 1, got {refit_every!r}")
    if not _is_int(refit_steps) or refit_steps < 1:
        raise InvalidInputError(f"refit_steps must be an integer >= 1, got {refit_steps!r}")


def _as_z(level: float) -> float:
    """The statistic's value where ``unusual`` is ``level`` (the Gaussian quantile)."""
    return float(special.ndtri(level))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_rows(values) -> np.ndarray:
    rows = np.asarray(values, dtype=np.float32)
    rows = rows[:, None] if rows.ndim == 1 else rows
    if rows.ndim != 2:
        raise InvalidInputError(f"expected rows of value columns ((n,) or (n, channels)), got shape "
                                f"{rows.shape}")
    if not np.isfinite(rows).all():
        raise InvalidInputError("the rows hold NaN or infinite values")
    return rows
