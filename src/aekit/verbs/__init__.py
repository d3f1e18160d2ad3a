"""The verbs of the ``aekit`` command, one module each.

Each module holds the verb's Python function (keyword-only: load the model and data, call the
library, write files and a ``<verb>.json`` summary) and its ``VERB``: the options the command
line parses for it, with defaults and choices read from the library. ``aekit.cli`` builds its
parser from :data:`VERBS` and does nothing else.
"""

from . import (
    attribute,
    density,
    detect,
    encode,
    evaluate,
    explore,
    export,
    interpolate,
    reconstruct,
    report,
    restore,
    sample,
    train,
    traverse,
    watch,
)
from .base import Verb

VERBS: list[Verb] = [train.VERB, encode.VERB, reconstruct.VERB, evaluate.VERB, traverse.VERB,
                     interpolate.VERB, attribute.VERB, sample.VERB, detect.VERB, *restore.VERBS,
                     density.VERB, watch.VERB, export.VERB, explore.VERB, report.VERB]

__all__ = ["VERBS", "Verb"]
