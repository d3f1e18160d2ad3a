"""Parameter constraints, checked once at the start of ``fit`` (scikit-learn's
``_parameter_constraints`` idea, with our own error type).

scikit-learn's own ``Interval(Integral, ...)`` accepts ``True`` as an integer; a flag passed
where a size belongs is a mistake, so these constraints reject booleans for numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from .errors import InvalidInputError


def _is_number(value, kind) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int:
    low: int | None = None
    high: int | None = None

    def accepts(self, value) -> bool:
        return (_is_number(value, Integral) and (self.low is None or value >= self.low)
                and (self.high is None or value <= self.high))

    def __str__(self) -> str:
        return _range("an integer", self.low, self.high, "[", "]")


@dataclass(frozen=True)
class Float:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def accepts(self, value) -> bool:
        if not _is_number(value, Real) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        return _range("a number", self.low, self.high, "(" if self.low_open else "[",
                      ")" if self.high_open else "]")


@dataclass(frozen=True)
class OneOf:
    values: tuple

    def accepts(self, value) -> bool:
        return isinstance(value, (str, bool)) and any(value == v and type(value) is type(v)
                                                      for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Bool:
    def accepts(self, value) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Widths:
    """A tuple (or list) of positive integers, at most ``max_len`` of them."""

    max_len: int = 32

    def accepts(self, value) -> bool:
        return (isinstance(value, (tuple, list)) and len(value) <= self.max_len
                and all(_is_number(v, Integral) and v > 0 for v in value))

    def __str__(self) -> str:
        return f"a tuple of at most {self.max_len} positive integers"


@dataclass(frozen=True)
class Instance:
    kind: type

    def accepts(self, value) -> bool:
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return f"an instance of {self.kind.__name__}"


@dataclass(frozen=True)
class Seed:
    """What ``sklearn.utils.check_random_state`` takes: None, an int or a RandomState."""

    def accepts(self, value) -> bool:
        import numpy as np

        return value is None or _is_number(value, Integral) or isinstance(value, np.random.RandomState)

    def __str__(self) -> str:
        return "None, an integer or a numpy RandomState"


def _range(what, low, high, left, right) -> str:
    if low is None and high is None:
        return what
    return f"{what} in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"


def check_params(owner: str, params: dict, constraints: dict) -> None:
    """Raise :class:`InvalidInputError` naming the first parameter no constraint accepts.

    ``constraints`` maps a name to a list of alternatives; ``None`` in the list allows None.
    """
    for name, value in params.items():
        allowed = constraints[name]
        if value is None and None in allowed:
            continue
        if not any(c is not None and c.accepts(value) for c in allowed):
            options = " or ".join("None" if c is None else str(c) for c in allowed)
            raise InvalidInputError(f"{owner}: {name}={value!r} is not valid; {name} must be {options}")
