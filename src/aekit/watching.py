"""``aekit watch``: CSV lines in (stdin or a growing file), one score line out per row.

Input: a header line, then ``timestamp,value[,value...]`` rows (the timestamp column found as
``aekit.data.load`` finds it). Output: ``timestamp,score,unusual,alarm`` lines, flushed after
every read, so a reader downstream sees each row as soon as it is scored. A malformed line is
reported on stderr and skipped; the watch goes on. Rows are read in whatever blocks the
stream delivers and scored together, which gives the same numbers as scoring them one by one
(``StreamDetector``). With ``refit_every``, each fine-tuned model that takes over is reported on
stderr with its row.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .data.tables import numeric_block, read_frame, timestamp_column_of
from .errors import InvalidInputError
from .runs import RunFolder
from .tasks.watch import StreamDetector

READ_BYTES = 1 << 16
OUTPUT_HEADER = "timestamp,score,unusual,alarm\n"


def watch(*, estimator, model_path, source: str, normal_source=None, out=None, follow: bool = False,
          timestamp_column=None, history: int = 2000, smoothing: int = 10, alarm_level: float = 0.9999,
          refit_every: int | None = None, refit_steps: int = 200, poll_seconds: float = 0.5,
          stderr=None) -> int:
    """Score the rows of ``source`` ("-": stdin) as they come; returns the rows scored."""
    stderr = stderr or sys.stderr
    stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115 (closed below)
    try:
        blocks = _line_blocks(stream, follow, poll_seconds)
        first, line_number = next(blocks, []), 1
        while first and not first[0]:  # blank lines before the header
            first, line_number = first[1:], line_number + 1
        if not first:
            raise InvalidInputError(f"{source}: no header line (expected timestamp and value column names)")
        header, first = first[0], first[1:]
        columns = next(csv.reader([header]))
        stamp_column = timestamp_column_of(columns, timestamp_column)
        if stamp_column not in columns:
            raise InvalidInputError(f"{source}: no column {stamp_column!r}; the columns are {columns}")
        stamp_at = columns.index(stamp_column)
        value_at = [i for i, c in enumerate(columns) if c != stamp_column]
        if not value_at:
            raise InvalidInputError(f"{source}: no value columns besides the timestamp {stamp_column!r}")
        normal = _healthy_rows(normal_source or _training_source(model_path),
                               [columns[i] for i in value_at])
        detector = StreamDetector(estimator, normal, history=history, smoothing=smoothing,
                                  alarm_level=alarm_level, refit_every=refit_every, refit_steps=refit_steps)
        with detector, _output(out) as sink:
            sink.write(OUTPUT_HEADER)
            sink.flush()
            n_scored = n_refits = 0
            for block in itertools.chain([first], blocks):
                stamps, rows = [], []
                for fields in csv.reader(block):  # one reader per block, not per line
                    line_number += 1
                    if not fields:  # a blank line
                        continue
                    row = _parse(fields, len(columns), stamp_at, value_at)
                    if isinstance(row, str):
                        print(f"aekit watch: line {line_number}: {row}; skipped", file=stderr, flush=True)
                        continue
                    stamps.append(row[0])
                    rows.append(row[1])
                if not rows:
                    continue
                scored = detector.update_many(np.asarray(rows, dtype=np.float32))
                sink.write("".join(
                    f"{stamp},{_number(s)},{_number(u)},{int(a)}\n"
                    for stamp, s, u, a in zip(stamps, scored["score"], scored["unusual"], scored["alarm"],
                                              strict=True)))
                sink.flush()
                n_scored += len(rows)
                for refit in detector.refits_[n_refits:]:
                    print(f"aekit watch: row {refit['row']}: a copy fine-tuned on {refit['windows']} healthy "
                          f"windows took over", file=stderr, flush=True)
                n_refits = len(detector.refits_)
        return n_scored
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _line_blocks(stream, follow: bool, poll_seconds: float):
    """The text lines of ``stream``, a list per read: each read returns what has
    arrived, so a block is what is there to score now. At the end of the input: stop, or wait
    for more (``follow``, as ``tail -f``)."""
    fd = stream.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, READ_BYTES)
        if not chunk:
            if follow:
                time.sleep(poll_seconds)
                continue
            if pending.strip():
                yield [pending.decode("utf-8", "replace").strip()]
            return
        *complete, pending = (pending + chunk).split(b"\n")
        if complete:  # blank lines too, so that line numbers in messages match the file's
            yield [line.decode("utf-8", "replace").strip() for line in complete]


def _parse(fields: list[str], n_columns: int, stamp_at: int, value_at: list[int]):
    """(timestamp, values) of a CSV line's fields, or why they cannot be read."""
    if len(fields) != n_columns:
        return f"expected {n_columns} fields, got {len(fields)}"
    try:
        values = [float(fields[i]) for i in value_at]
    except ValueError:
        return "a value is not a number"
    if not all(math.isfinite(v) for v in values):
        return "a value is NaN or infinite"
    return fields[stamp_at], values


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def _training_source(model_path) -> str:
    """The healthy data a run was trained on (its metrics.json), for calibration."""
    run = RunFolder.holding_model(model_path)
    if run is None or not run.metrics.is_file():
        raise InvalidInputError(f"{model_path} is a model folder: give the healthy period's rows with "
                                "--normal-data")
    source = json.loads(run.metrics.read_text()).get("source")
    if not source or not Path(source).is_file():
        raise InvalidInputError(f"the data {run.path} was trained on ({source}) is not there any more: give "
                                "the healthy period's rows with --normal-data")
    return source


def _healthy_rows(path, value_columns: list[str]) -> np.ndarray:
    frame = read_frame(Path(path))
    missing = [c for c in value_columns if c not in map(str, frame.columns)]
    if missing:
        raise InvalidInputError(f"{path}: the healthy data lacks the stream's value column(s) {missing}")
    frame.columns = [str(c) for c in frame.columns]
    values, _ = numeric_block(frame, value_columns, Path(path), "error")
    return values


class _output:
    """stdout, or a file written line by line (a stream's output grows as rows arrive)."""

    def __init__(self, out):
        self.out = out

    def __enter__(self):
        self.file = sys.stdout if self.out in (None, "-") else open(self.out, "w", encoding="utf-8")  # noqa: SIM115
        return self.file

    def __exit__(self, *exc):
        if self.file is not sys.stdout:
            self.file.close()
