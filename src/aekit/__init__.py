"""aekit: autoencoders made practical.

Every model is a composition of five choices (corruption, networks, bottleneck, likelihood,
objective weights); the presets below fix some of them and follow scikit-learn's contract.
"""

from .detectors import AnomalyDetector, StreamDetector
from .errors import (
                     AekitError,
                     InvalidInputError,
                     ModelFileError,
                     OutputError,
                     TrainingDivergedError,
                     UnsupportedOperationError,
                     UntrustedCodeError,
)
from .estimators import VAE, AutoEncoder, ConditionalVAE, DenoisingAutoEncoder, inference_batch_size
from .explorer import explore
from .export import export_onnx
from .nn.custom import CustomNetwork
from .persistence import load


def _installed_version() -> str:
    """The version pip installed (the package metadata: one source, pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aekit")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _installed_version()

__all__ = ["AutoEncoder", "DenoisingAutoEncoder", "VAE", "ConditionalVAE", "AnomalyDetector",
           "StreamDetector",
           "inference_batch_size", "explore", "export_onnx", "load", "CustomNetwork", "AekitError",
           "InvalidInputError", "ModelFileError", "OutputError", "TrainingDivergedError",
           "UnsupportedOperationError", "UntrustedCodeError", "__version__"]
