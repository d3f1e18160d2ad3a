"""scikit-learn-style presets of the five-choice composition.

:class:`AutoEncoder`, :class:`DenoisingAutoEncoder`, :class:`VAE` and :class:`ConditionalVAE`
(``presets``) each fix the bottleneck and the conditioning; :class:`BaseAutoEncoder` (``base``)
is their shared shell, which delegates to ``validation`` (what goes in), ``building`` (the
network a fit builds), ``aekit.training`` (the fit) and ``inference`` (running the model).
"""

from .base import MIN_TRAINING_SAMPLES, BaseAutoEncoder
from .building import DEFAULT_HIDDEN_DIMS
from .inference import inference_batch_size
from .presets import VAE, AutoEncoder, ConditionalVAE, DenoisingAutoEncoder

__all__ = ["BaseAutoEncoder", "AutoEncoder", "DenoisingAutoEncoder", "VAE", "ConditionalVAE",
           "DEFAULT_HIDDEN_DIMS", "MIN_TRAINING_SAMPLES", "inference_batch_size"]
