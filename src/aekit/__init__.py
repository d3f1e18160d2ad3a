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

__version__ = "0.1.0"

__all__ = ["AutoEncoder", "DenoisingAutoEncoder", "VAE", "ConditionalVAE", "AnomalyDetector",
           "StreamDetector",
           "inference_batch_size", "explore", "export_onnx", "load", "CustomNetwork", "AekitError",
           "InvalidInputError", "ModelFileError", "OutputError", "TrainingDivergedError",
           "UnsupportedOperationError", "UntrustedCodeError", "__version__"]
