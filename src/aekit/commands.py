"""Deprecated: each verb's function moved to its module of :mod:`aekit.verbs`
(``aekit.commands.train`` is ``aekit.verbs.train.train``; ``load_model``, ``model_folder`` and
``trained_on`` are in ``aekit.verbs.common``)."""

from ._moved import forwarder

__getattr__ = forwarder(__name__, "aekit.verbs", {
    "train": "train", "encode": "encode", "reconstruct": "reconstruct", "evaluate": "evaluate",
    "traverse": "traverse", "interpolate": "interpolate", "attribute": "attribute", "sample": "sample",
    "detect": "detect", "restore": "restore", "density": "density", "explorer": "explore",
    "export": "export", "load_model": "common", "model_folder": "common", "trained_on": "common"})
