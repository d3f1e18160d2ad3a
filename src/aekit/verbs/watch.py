"""``aekit watch``: CSV lines in (stdin or a growing file), one score line out per row.

Input: a header line, then one row per line: a timestamp column (found as ``aekit.data.load``
finds it) and the value columns the model was trained on, matched by name: they may come in
any order, beside other columns (ignored); one that is missing is an error before anything is
scored. Output: ``timestamp,score,unusual,surprise,alarm,channel,channel_share`` lines, flushed
after every read, so a reader downstream sees each row as soon as it is scored; ``surprise`` is
``unusual`` on a scale that does not saturate, and ``channel`` and its share, on alarm rows
only, name the value column the alarm's window owes most of its score to.

A line that cannot be read (a wrong number of fields, a value that is not a number, a quote
that is not closed, a line over ``MAX_LINE_BYTES``) is reported on stderr with its line number
and skipped; the watch goes on. Each line is parsed on its own: a stray quote never swallows
the lines after it. ``follow`` waits for more lines at the end of a file and follows it across
log rotation, as ``tail -F`` does: a file moved away and created anew, or truncated and
rewritten, is read from its start (a repeated header line skipped).

Rows are read in whatever blocks the stream delivers and scored together, which gives the same
numbers as scoring them one by one (``StreamDetector``). With ``refit_every``, each fine-tuned
model that takes over is reported on stderr with its row.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.options import positive_float, positive_int
from ..data.tables import numeric_block, read_frame, timestamp_column_of
from ..detectors import StreamDetector
from ..errors import InvalidInputError
from ..runs import RunFolder
from ..stream_output import claim_stream_output
from .base import TRUST_CODE, Verb, opt
from .common import load_model

READ_BYTES = 1 << 16
MAX_LINE_BYTES = 1 << 20  # a row of a few thousand values fits many times over
OUTPUT_HEADER = "timestamp,score,unusual,surprise,alarm,channel,channel_share\n"
EARLIER_HEADERS = ("timestamp,score,unusual,alarm\n",)  # what earlier versions wrote: replaced too


def watch(*, estimator, model_path, source: str, normal_source=None, out=None, follow: bool = False,
          timestamp_column=None, history: int = 2000, smoothing: int = 10, alarm_level: float = 0.9999,
          episode_end: float = 0.5, context="auto", newest_rows="auto",
          refit_every: int | None = None, refit_steps: int = 200, poll_seconds: float = 0.5,
          false_alarms_per_day: float | None = None, false_alarm_every: int | None = None,
          stderr=None) -> int:
    """Score the rows of ``source`` ("-": stdin) as they come; returns the rows scored.

    ``false_alarms_per_day`` (with the healthy period's timestamps to count rows per day) or
    ``false_alarm_every`` (one per that many rows) sets the alarm level for that false-alarm
    rate instead of ``alarm_level``."""
    if false_alarms_per_day is not None and false_alarm_every is not None:
        raise InvalidInputError("give --false-alarms-per-day or --false-alarm-every, not both")
    if not 0 < episode_end <= alarm_level:
        raise InvalidInputError(f"--episode-end must be above 0 and at most --alarm-level ({alarm_level:g}), "
                                f"got {episode_end:g}")
    stderr = stderr or sys.stderr
    sink = claim_stream_output(out, OUTPUT_HEADER, inputs=[source, normal_source], model=model_path,
                               earlier_headers=EARLIER_HEADERS)

    def say(message: str) -> None:
        print(f"aekit watch: {message}", file=stderr, flush=True)

    with _Lines(source, follow, poll_seconds, say) as lines:
        header, columns = _header(lines, source)
        stamp_column = timestamp_column_of(columns, timestamp_column)
        if stamp_column not in columns:
            raise InvalidInputError(f"{source}: no column {stamp_column!r}; the columns are {columns}")
        normal, channels, rows_per_day = _healthy_rows(estimator, model_path, normal_source, timestamp_column)
        rate = _false_alarm_rate(false_alarms_per_day, false_alarm_every, rows_per_day, say)
        missing = [c for c in channels if c not in columns]
        if missing:
            raise InvalidInputError(f"{source}: the model watches the column(s) {channels}; the header "
                                    f"lacks {missing}")
        stamp_at, value_at = columns.index(stamp_column), [columns.index(c) for c in channels]
        ignored = [c for c in columns if c not in channels and c != stamp_column]
        if ignored:
            say(f"column(s) {ignored[:10]} are not among the model's {channels}: ignored")
        detector = StreamDetector(estimator, normal, history=history, smoothing=smoothing,
                                  alarm_level=alarm_level, episode_end=episode_end, context=context,
                                  newest_rows=newest_rows, refit_every=refit_every, refit_steps=refit_steps,
                                  channel_names=channels, false_alarm_rate=rate)
        with detector, sink.open() as output:
            return _score_lines(lines, header, len(columns), stamp_at, value_at, detector, output, say)


def _false_alarm_rate(false_alarms_per_day, false_alarm_every, rows_per_day, say) -> float | None:
    """False alarms per row from --false-alarm-every or --false-alarms-per-day (None: neither)."""
    if false_alarm_every is not None:
        if false_alarm_every < 2:
            raise InvalidInputError("--false-alarm-every must be at least 2 rows: an alarm needs a row "
                                    "without one before it")
        return 1.0 / false_alarm_every
    if false_alarms_per_day is None:
        return None
    if rows_per_day is None:
        raise InvalidInputError("--false-alarms-per-day needs the healthy period's timestamps to be "
                                "dates and times; use --false-alarm-every ROWS instead")
    rate = false_alarms_per_day / rows_per_day
    if rate >= 0.5:
        raise InvalidInputError(
            f"--false-alarms-per-day {false_alarms_per_day:g} is one false alarm every "
            f"{1 / rate:.2g} rows ({rows_per_day:,.0f} rows a day): ask for fewer than "
            f"{rows_per_day / 2:,.0f} a day")
    say(f"{rows_per_day:,.0f} rows a day (the healthy period's median spacing): "
        f"{false_alarms_per_day:g} false alarm(s) a day is one per {1 / rate:,.0f} rows")
    return rate


def _score_lines(lines, header: str, n_columns: int, stamp_at: int, value_at: list[int], detector,
                 output, say) -> int:
    n_scored = n_refits = 0
    for block in lines.blocks():
        stamps, rows = [], []
        for number, line in block:
            if line is _TOO_LONG:
                say(f"line {number}: longer than {MAX_LINE_BYTES:,} bytes; skipped")
                continue
            if not line or (line == header and lines.restarted_at(number)):
                continue  # a blank line, or the header again at the top of a rotated file
            row = _parse(line, n_columns, stamp_at, value_at)
            if isinstance(row, str):
                say(f"line {number}: {row}; skipped")
                continue
            stamps.append(row[0])
            rows.append(row[1])
        if not rows:
            continue
        scored = detector.update_many(np.asarray(rows, dtype=np.float32))
        output.write("".join(
            f"{stamp},{_number(s)},{_number(u)},{_number(surprise, 4)},{int(a)},{_field(c)},"
            f"{_number(share, 3)}\n"
            for stamp, s, u, surprise, a, c, share in zip(
                stamps, scored["score"], scored["unusual"], scored["surprise"], scored["alarm"],
                scored["channel"], scored["channel_share"], strict=True)))
        output.flush()
        n_scored += len(rows)
        for refit in detector.refits_[n_refits:]:
            say(f"row {refit['row']}: a copy fine-tuned on {refit['windows']} healthy windows took over")
        n_refits = len(detector.refits_)
    return n_scored


def _header(lines: _Lines, source: str) -> tuple[str, list[str]]:
    """The header line (after any blank lines) and its column names, which must be distinct."""
    for block in lines.blocks():
        for at, (number, line) in enumerate(block):
            if line is _TOO_LONG:
                raise InvalidInputError(f"{source}: line {number} is longer than {MAX_LINE_BYTES:,} bytes, "
                                        "not a header")
            if not line:
                continue
            columns = _fields(line)
            if columns is None:
                raise InvalidInputError(f"{source}: the header line is not valid CSV (a quote is not closed)")
            repeated = sorted({c for c in columns if columns.count(c) > 1})
            if repeated:
                raise InvalidInputError(f"{source}: the header names the column(s) {repeated[:5]} more than "
                                        "once; give every column its own name")
            lines.push_back(block[at + 1:])
            return line, columns
    raise InvalidInputError(f"{source}: no header line (expected timestamp and value column names)")


def _fields(line: str) -> list[str] | None:
    """A line's CSV fields; None for a quote that is not closed on the line."""
    if '"' not in line:
        return line.split(",")
    if csv.field_size_limit() < MAX_LINE_BYTES:  # a field may be as long as a line
        csv.field_size_limit(MAX_LINE_BYTES)
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error:
        return None


def _parse(line: str, n_columns: int, stamp_at: int, value_at: list[int]):
    """(timestamp, values) of a CSV line, or why it cannot be read."""
    fields = _fields(line)
    if fields is None:
        return "a quoted field is not closed on its line"
    if len(fields) != n_columns:
        return f"expected {n_columns} fields, got {len(fields)}"
    try:
        values = [float(fields[i]) for i in value_at]
    except ValueError:
        return "a value is not a number"
    if not all(math.isfinite(v) for v in values):
        return "a value is NaN or infinite"
    return fields[stamp_at], values


def _number(value: float, digits: int = 6) -> str:
    return "" if math.isnan(value) else f"{value:.{digits}g}"


def _field(text: str) -> str:
    """A CSV field: quoted where the text holds a separator, a quote or a line break."""
    return f'"{text.replace(chr(34), 2 * chr(34))}"' if any(c in text for c in ',"\r\n') else text


# ---------------------------------------------------------------------- the healthy rows
def _healthy_rows(estimator, model_path, normal_source, timestamp_column):
    """The healthy period's rows, their columns in the model's order, those columns' names, and
    rows per day (from the median spacing of its timestamps; None where they are not dates).

    The names come from the model (a model of flat windows names its inputs ``column[t+k]``),
    else from its run (``metrics.json`` records them), else from the healthy data's own header,
    whose order is the one the model was trained in."""
    run = RunFolder.holding_model(model_path)
    source, options = run.trained_on() if run is not None else (None, {})
    path = normal_source or source
    if not path:
        raise InvalidInputError(f"{model_path} is a model folder: give the healthy period's rows with "
                                "--normal-data")
    if not Path(path).is_file():
        raise InvalidInputError(f"the data {run.path if run else model_path} was trained on ({path}) is not "
                                "there any more: give the healthy period's rows with --normal-data")
    frame = read_frame(Path(path))
    frame.columns = [str(c) for c in frame.columns]
    stamp = timestamp_column_of(list(frame.columns), timestamp_column or options.get("timestamp_column"))
    channels = _model_channels(estimator, run)
    if channels is None:
        channels = options.get("feature_columns") or [c for c in frame.columns if c != stamp]
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{path}: the healthy data lacks the model's value column(s) {missing}")
    values, _ = numeric_block(frame, channels, Path(path), "error")
    return values, list(channels), _rows_per_day(frame.get(stamp))


def _rows_per_day(stamps) -> float | None:
    """86,400 s over the median spacing of ``stamps``, when they read as dates and times."""
    if stamps is None or len(stamps) < 2 or pd.api.types.is_numeric_dtype(stamps):
        return None
    try:
        times = pd.to_datetime(stamps, format="mixed")
    except (ValueError, TypeError):
        return None
    spacing = times.diff().dropna().median().total_seconds()
    return 86_400.0 / spacing if spacing > 0 else None


def _model_channels(estimator, run) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and all(str(n).endswith("]") and "[t+" in str(n) for n in names):
        return list(dict.fromkeys(str(n).rsplit("[t+", 1)[0] for n in names))
    if run is not None and run.metrics.is_file():
        from .._jsonio import read_object

        recorded = read_object(run.metrics).get("value_columns")
        if isinstance(recorded, list) and recorded and all(isinstance(c, str) for c in recorded):
            return recorded
    return None


# ---------------------------------------------------------------------- reading lines
class _TooLong:
    """Stands for a line over MAX_LINE_BYTES, which was dropped as it came."""


_TOO_LONG = _TooLong()


class _Lines:
    """The lines of stdin or a file as ``(line number, text)``, a list per read: each read
    returns what has arrived, so a block is what is there to score now.

    Memory and time are linear in the input: a partial line is kept as a list of pieces, and a
    line that grows past MAX_LINE_BYTES is dropped as it arrives (reported as ``_TOO_LONG``).
    With ``follow``, the end of the input is waited at, and a file that was rotated (moved
    away and created anew, or truncated) is reopened and read from its start."""

    def __init__(self, source: str, follow: bool, poll_seconds: float, say):
        self.source, self.follow, self.poll_seconds, self.say = source, follow, poll_seconds, say
        self.path = None if source == "-" else Path(source)
        if self.path is not None and self.path.is_dir():
            raise InvalidInputError(f"{source} is a folder: give the CSV file to watch")
        try:
            self.fd = sys.stdin.buffer.fileno() if self.path is None else os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {source}: {exc.strerror or exc}") from None
        self.number = 0  # lines handed out so far
        self._pieces: list[bytes] = []
        self._size = 0
        self._dropping = False
        self._pushed: list = []
        self._restarts: set[int] = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.path is not None:
            os.close(self.fd)

    def push_back(self, block: list) -> None:
        """Hand ``block`` out again first (the lines read along with the header)."""
        self._pushed = block

    def restarted_at(self, number: int) -> bool:
        """Whether line ``number`` is the first of a file read anew after rotation."""
        return number in self._restarts

    def blocks(self):
        while True:
            if self._pushed:
                pushed, self._pushed = self._pushed, []
                yield pushed
            try:
                chunk = os.read(self.fd, READ_BYTES)
            except OSError as exc:
                raise InvalidInputError(f"cannot read {self.source}: {exc.strerror or exc}") from None
            if chunk:
                block = self._split(chunk)
                if block:
                    yield block
                continue
            if self.follow and self._reopened():
                continue
            if not self.follow:
                last = self._flush()
                if last:
                    yield last
                return
            time.sleep(self.poll_seconds)

    def _split(self, chunk: bytes) -> list:
        *complete, rest = chunk.split(b"\n")
        block = []
        for piece in complete:
            block.append(self._line(piece))
        self._add(rest)
        return block

    def _add(self, piece: bytes) -> None:
        if self._dropping or not piece:
            return
        self._size += len(piece)
        if self._size > MAX_LINE_BYTES:
            self._pieces, self._dropping = [], True
        else:
            self._pieces.append(piece)

    def _line(self, last_piece: bytes):
        """The line that ``last_piece`` ends, numbered."""
        self._add(last_piece)
        self.number += 1
        if self._dropping:
            line = _TOO_LONG
        else:
            line = b"".join(self._pieces).decode("utf-8", "replace").strip()
        self._pieces, self._size, self._dropping = [], 0, False
        return self.number, line

    def _flush(self) -> list:
        """The last line, if the input ended without a newline."""
        if self._pieces or self._dropping:
            return [self._line(b"")]
        return []

    def _reopened(self) -> bool:
        """At the end of a followed file: reopen it if it was rotated; False if not."""
        if self.path is None:
            return False
        try:
            now = os.stat(self.path)
        except OSError:  # moved away, not created again yet: wait on
            return False
        here = os.fstat(self.fd)
        position = os.lseek(self.fd, 0, os.SEEK_CUR)
        if (now.st_dev, now.st_ino) != (here.st_dev, here.st_ino):
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                return False
            os.close(self.fd)
            self.fd, why = fd, "was replaced by a new file"
        elif now.st_size < position:
            os.lseek(self.fd, 0, os.SEEK_SET)
            why = "was truncated"
        else:
            return False
        if self._pieces or self._dropping:  # the old file's last line, without its newline
            self._pushed = [self._line(b"")]
        self._restarts.add(self.number + 1)
        self.say(f"{self.source} {why}: reading it from its start")
        return True


# ---------------------------------------------------------------------- the command line
def _run(args):
    """Score a live series; Ctrl-C (or the reader downstream closing the pipe) ends it cleanly."""
    estimator = load_model(args.model, args.device, args.trust_code)
    try:
        n = watch(estimator=estimator, model_path=args.model, source=args.data,
                  normal_source=args.normal_data, out=args.out, follow=args.follow,
                  timestamp_column=args.timestamp_column, history=args.history,
                  smoothing=args.smoothing, alarm_level=args.alarm_level, episode_end=args.episode_end,
                  context=args.context, newest_rows=args.newest_rows, refit_every=args.refit_every,
                  refit_steps=args.refit_steps, false_alarms_per_day=args.false_alarms_per_day,
                  false_alarm_every=args.false_alarm_every)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.stderr.write("aekit: watch: stopped\n")
        return None
    print(f"aekit: watch: scored {n} rows", file=sys.stderr)
    return None


_STREAM = {name: p.default for name, p in inspect.signature(StreamDetector).parameters.items()}


def _context(text: str):
    """--context: a number of rows, 'auto' or 'none'."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    return positive_int(text)


def _newest_rows(text: str):
    """--newest-rows: a number of rows, 'auto' or 'all'."""
    if text.lower() in ("auto", "all"):
        return None if text.lower() == "all" else "auto"
    return positive_int(text)


VERB = Verb("watch", "score a live series row by row (CSV lines on stdin or a growing file): score, how "
            "unusual, alarm", _run, data=False, model=False, options=[
                opt("--model", required=True,
                    help="a run folder from aekit train --window, or its model folder"),
                opt("--data", default="-", help="CSV with a header: - for stdin (default) or a file"),
                opt("--follow", action="store_true",
                    help="at the end of the file, wait for more rows (tail -f)"),
                opt("--normal-data", help="the healthy period's CSV, to calibrate the scores (default: the "
                    "data "
                    "the run was trained on)"),
                opt("--out", help="where the score lines go (default: stdout)"),
                opt("--timestamp-column", help="default: 'timestamp' or 'time', else the first column"),
                opt("--history", type=positive_int, default=_STREAM["history"],
                    help=f"recent scores that define normal (default: {_STREAM['history']})"),
                opt("--smoothing", type=positive_int, default=_STREAM["smoothing"],
                    help=f"recent scores averaged before comparing (default: {_STREAM['smoothing']})"),
                opt("--alarm-level", type=float, default=_STREAM["alarm_level"],
                    help="how unusual (0-1) a row must be to raise an alarm "
                         f"(default: {_STREAM['alarm_level']})"),
                opt("--episode-end", type=float, default=_STREAM["episode_end"],
                    help="how unusual (0-1) rows must fall back to before an alarm episode ends and a "
                         f"new one can start (default: {_STREAM['episode_end']})"),
                opt("--context", type=_context, default=_STREAM["context"], metavar="ROWS|auto|none",
                    help="also judge each value against the ROWS rows before it (default: auto, four "
                         "model windows; none: the model's score alone)"),
                opt("--newest-rows", type=_newest_rows, default=_STREAM["newest_rows"],
                    metavar="ROWS|auto|all",
                    help="score each window by the model's error on its ROWS newest rows (default: auto, "
                         "a sixth of the window; all: the whole window)"),
                opt("--false-alarms-per-day", type=positive_float, metavar="F",
                    help="raise about F false alarms a day (the alarm level set on the healthy period, "
                         "its timestamps giving rows per day) instead of --alarm-level"),
                opt("--false-alarm-every", type=positive_int, metavar="ROWS",
                    help="raise about one false alarm per ROWS rows, instead of --alarm-level"),
                opt("--refit-every", type=positive_int, metavar="ROWS",
                    help="continual learning: every ROWS rows, fine-tune a copy of the model in the "
                         "background on the recent rows that raised no alarm (default: never)"),
                opt("--refit-steps", type=positive_int, default=_STREAM["refit_steps"],
                    help=f"optimisation steps of each fine-tuning (default: {_STREAM['refit_steps']})"),
                TRUST_CODE,
            ])
