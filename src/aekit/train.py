"""Deprecated: the training side moved to :mod:`aekit.training` (same names)."""

from __future__ import annotations

import warnings

from . import training


def __getattr__(name: str):
    value = getattr(training, name)  # AttributeError for names that never existed
    warnings.warn(f"aekit.train.{name} moved to aekit.training.{name}; aekit.train will be removed",
                  DeprecationWarning, stacklevel=2)
    return value
