"""Old module names kept working after a move: their names forward, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import warnings


def forwarder(old: str, new: str, names: dict[str, str] | None = None):
    """A module ``__getattr__`` for ``old`` whose names now live in module ``new`` (or, for the
    names in ``names``, in ``new + "." + names[name]``)."""
    def __getattr__(name: str):
        where = new if names is None else (f"{new}.{names[name]}" if name in names else None)
        if where is None or name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where), name)  # AttributeError for names that never existed
        warnings.warn(f"{old}.{name} moved to {where}.{name}; {old} will be removed", DeprecationWarning,
                      stacklevel=2)
        return value
    return __getattr__
