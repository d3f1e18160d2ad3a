"""The exceptions aekit raises on purpose.

Each subclasses the built-in type a caller would already catch (``ValueError`` for bad
data, ``OSError`` for bad files), so scikit-learn's own checks and ordinary ``except``
clauses keep working; catch :class:`AekitError` to catch them all.
"""


class AekitError(Exception):
    """Base class of every error aekit raises deliberately."""


class InvalidInputError(AekitError, ValueError, TypeError):
    """Data or parameters that cannot be used: NaN/inf, empty, wrong shape, non-numeric.

    Bad data is a wrong value or a wrong type depending on who asks, so this is both a
    ``ValueError`` and a ``TypeError``: code that catches either (scikit-learn does) catches it.
    """


class ModelFileError(AekitError, OSError):
    """A model folder or checkpoint that is missing, truncated, edited or of another version."""


class UntrustedCodeError(ModelFileError):
    """A model folder whose networks are built by the user's code, loaded without
    ``trust_code=True``: aekit does not import code that the caller has not trusted."""


class OutputError(AekitError, OSError):
    """An output that cannot be written (disk full, no permission), or a path aekit refuses to
    replace because it holds something aekit did not write, or another process is writing it."""


class TrainingDivergedError(AekitError, FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch, the step and the loss terms."""


class UnsupportedOperationError(AekitError, TypeError):
    """The model cannot do this (e.g. ``log_likelihood`` needs a probabilistic bottleneck)."""
