"""Deprecated: the detectors moved to :mod:`aekit.detectors` (same names)."""

from __future__ import annotations

import warnings

from .. import detectors


def __getattr__(name: str):
    value = getattr(detectors, name)  # AttributeError for names that never existed
    warnings.warn(f"aekit.tasks.watch.{name} moved to aekit.detectors.{name}; "
                  "aekit.tasks.watch will be removed",
                  DeprecationWarning, stacklevel=2)
    return value
