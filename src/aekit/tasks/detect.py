"""Deprecated: the detectors moved to :mod:`aekit.detectors` (same names)."""

from .._moved import forwarder

__getattr__ = forwarder(__name__, "aekit.detectors")
