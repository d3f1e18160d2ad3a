"""What a verb of the command line is: its name, help, options, and how its parsed arguments
become a call of the Python function that does the work."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..data.options import from_arguments, non_negative_int, positive_int


@dataclass
class Verb:
    """A verb of the command line: its options and how its arguments become a call."""

    name: str
    help: str
    call: object  # (args) -> Path of the summary written, or None
    options: list = field(default_factory=list)
    data: bool = True  # reads --data
    data_default: str | None = "digits"  # None: the verb finds its own data when --data is absent
    model: bool = True  # reads --model and writes --out (default RUN/<verb>)


def opt(*flags, **kwargs):
    """One option of a verb, as ``add_argument`` takes it."""
    return flags, kwargs


def common(args) -> dict:
    """The keyword arguments every model verb's function takes."""
    return {"model": args.model, "out": args.out, "device": args.device, "trust_code": args.trust_code}


def with_data(args) -> dict:
    return {**common(args), "source": args.data, "data_options": from_arguments(args)}


def port(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def at_least_two(text: str) -> int:
    return positive_int(text, least=2)


def neighbors(text: str) -> int | str | None:
    """auto, 0 (none) or a count."""
    return "auto" if text == "auto" else (non_negative_int(text) or None)


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


TRUST_CODE = opt("--trust-code", action="store_true", help="a model with its own networks: import their code")
