"""Deprecated: each verb's function moved to its module of :mod:`aekit.verbs`
(``aekit.commands.train`` is ``aekit.verbs.train.train``, ``load_model`` is in
``aekit.verbs.common``)."""

from __future__ import annotations

import importlib
import warnings

_MOVED = {"train": "train", "encode": "encode", "reconstruct": "reconstruct", "evaluate": "evaluate",
          "traverse": "traverse", "interpolate": "interpolate", "attribute": "attribute",
          "sample": "sample", "detect": "detect", "restore": "restore", "density": "density",
          "explorer": "explore", "export": "export", "load_model": "common", "model_folder": "common",
          "trained_on": "common"}


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(f"module 'aekit.commands' has no attribute {name!r}")
    module = f"aekit.verbs.{_MOVED[name]}"
    warnings.warn(f"aekit.commands.{name} moved to {module}.{name}; aekit.commands will be removed",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)
