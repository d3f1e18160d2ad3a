"""Deprecated: the training side moved to :mod:`aekit.training` (same names)."""

from ._moved import forwarder

__getattr__ = forwarder(__name__, "aekit.training")
