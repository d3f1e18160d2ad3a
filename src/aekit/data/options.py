"""Every option of ``aekit.data.load``, stated once: its default, what it means, and how the
command line spells and parses it. ``load``'s keywords, the CLI's data arguments and the options
a run folder records are all derived from :class:`DataOptions`."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from .tables import MISSING_POLICIES


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def positive_int(text: str, least: int = 1) -> int:
    what = "a positive integer" if least == 1 else f"an integer >= {least}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def non_negative_int(text: str) -> int:
    return positive_int(text, least=0)


def image_size(text: str) -> tuple[int, int]:
    """'32' or 'HxW'."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts, default=0) < 1:
        raise argparse.ArgumentTypeError(f"expected a side like 32 or HxW like 28x28, got {text!r}")
    return (parts[0], parts[-1])


def byte_size(text: str) -> int:
    """'500M', '4G', '2.5G' or a number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500M or 4G") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("the size must be positive")
    return int(value)


def _comma_list(text: str) -> list[str]:
    return text.split(",")


def _option(default, help: str, *, cli: dict | None = None):
    """A field of DataOptions: ``help`` (the CLI's and the docs'), ``cli``: add_argument's
    type/choices/action (None: the option has no command-line flag)."""
    return field(default=default, metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class DataOptions:
    """How ``load`` reads a source (each field is one keyword of ``load`` and one CLI flag)."""

    split: str = _option("train", "split of a named set", cli={"choices": ["train", "test"]})
    array: str | None = _option(None, ".npz archives: the array that holds the samples (default: X)",
                                cli={})
    label_column: str | None = _option(None, "table column (or .npz array) holding labels", cli={})
    id_column: str | None = _option(None, "table column holding ids, carried through to outputs", cli={})
    feature_columns: list[str] | None = _option(None, "comma-separated feature columns",
                                                cli={"type": _comma_list})
    factors: list[str] | None = _option(
        None, "known factors or attributes of the samples: comma-separated columns of the table (kept "
        "out of the features), or a table file with a row per sample (matched to an image folder's "
        "files by a 'file' column, else in order)", cli={"type": _comma_list})
    missing: str = _option("error", "missing or non-numeric table cells: fail (default), drop rows, or "
                           "impute the median", cli={"choices": list(MISSING_POLICIES)})
    window: int | None = _option(None, "time series: window length in rows", cli={"type": positive_int})
    stride: int | None = _option(None, "time series: rows between windows (window/4)",
                                 cli={"type": positive_int})
    timestamp_column: str | None = _option(
        None, "time series: the timestamp column (default: timestamp, time, or the first)", cli={})
    time_order: str = _option(
        "auto", "time series whose timestamps step back or repeat: auto (default: keep the file's order, "
        "with a warning, when at most 1%% of steps do; refuse more), sort, file, or error",
        cli={"choices": ["auto", "file", "sort", "error"]})
    size: int | tuple[int, int] | None = _option(
        None, "image side or HxW: resize an image folder; the size of shapes/photos",
        cli={"type": image_size})
    channels: int | None = _option(None, "image folders: 1 greyscale, 3 RGB",
                                   cli={"type": int, "choices": [1, 3]})
    alpha: str = _option("composite", "image folders, transparent images: composite over white (default), "
                         "drop the alpha channel, or keep it as a channel",
                         cli={"choices": ["composite", "drop", "keep"]})
    skip_bad: bool = _option(False, "image folders: skip unreadable images", cli={"action": "store_true"})
    count: int | None = _option(None, "how many samples generated built-ins make", cli={"type": positive_int})
    stream: bool | str = _option(
        "auto", "read the data from disk a batch at a time (default: when they are larger than "
        "--max-memory; docs/data.md lists the sources that stream)",
        cli={"action": "store_const", "const": True})
    workers: int = _option(0, "streamed image folders: decode in N worker processes (default 0: two "
                           "threads)", cli={"type": non_negative_int, "metavar": "N"})
    max_memory: int | None = _option(None, "load at most this much data into memory, e.g. 4G or 500M "
                                     "(default: half of the memory available)",
                                     cli={"type": byte_size, "metavar": "SIZE"})
    random_state: int = _option(0, "the seed of generated built-ins")

    @classmethod
    def of(cls, options: dict | None) -> DataOptions:
        """Options from keywords; an unknown one is named in the error."""
        options = dict(options or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InvalidInputError(f"unknown data option(s) {unknown}; the options are {sorted(known)}")
        return cls(**options)

    def given(self) -> dict:
        """The options that differ from their defaults (what a run folder records)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}


def add_arguments(parser: argparse.ArgumentParser, default_source: str | None = "digits") -> None:
    """``--data`` and a flag per option with a command-line spelling, in a group of ``parser``."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=default_source,
                       help="built-in (digits, shapes, parabola, photos), named set (fashion-mnist, "
                            "mnist, kmnist) or path: image folder, .npy, .npz, IDX, .csv/.tsv/.parquet "
                            + ("(default: digits)" if default_source
                               else "(default: the data the run was trained on)"))
    for option in dataclasses.fields(DataOptions):
        cli = option.metadata["cli"]
        if cli is not None:
            group.add_argument("--" + option.name.replace("_", "-"), default=option.default,
                               help=option.metadata["help"], **cli)


def from_arguments(args: argparse.Namespace) -> dict:
    """The data options a parsed command line gives (every option with a flag)."""
    return {option.name: getattr(args, option.name) for option in dataclasses.fields(DataOptions)
            if option.metadata["cli"] is not None}
