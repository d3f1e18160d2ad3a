"""From a preset's parameters and the data it sees to the ``ModelConfig`` it builds: where
every "auto" is resolved."""

from __future__ import annotations

from ..errors import InvalidInputError
from ..model import ModelConfig, ObjectiveConfig
from ..nn.corruption import CorruptionConfig
from .parameters import CORRUPTION_FIELDS, OBJECTIVE_FIELDS

# Dense widths between the network's features and the code when hidden_dims is None. "conv"
# gets 512: on Fashion-MNIST (k = 10) 12 epochs reached test SSE 8.48 against 9.30 with 256, for
# 13% more time, and 75 epochs (554 s) 7.89 where 256 needed 100 epochs (612 s) for 7.97
# (benchmarks/NOTES.md, "Wider dense layers"). The residual networks are unmeasured: 256.
DEFAULT_HIDDEN_DIMS = {"mlp": (256, 128), "conv": (512,)}


def model_config(estimator, is_image: bool, binary: bool) -> ModelConfig:
    """The network ``estimator`` builds for data that are images (or not) and binary (or not);
    call after its scaler is fitted (the likelihood depends on the scaled range)."""
    params = estimator.get_params()
    network = params["network"]
    if network == "auto":
        network = "conv" if is_image else "mlp"
    activation = params["activation"]
    if activation == "auto":  # (a custom network ignores it too)
        activation = "silu" if network == "conv" else "relu"
    hidden = params["hidden_dims"]
    if hidden is None:  # (a custom network ignores it)
        hidden = DEFAULT_HIDDEN_DIMS.get(network, (256,)) if isinstance(network, str) else (256,)
    # A tenth of the data's scale (the [0, 1] range, or one standard deviation). Measured: on
    # digits, sigma = 0.1 kept a VAE's codes informative where Bernoulli blurred them; on
    # standardised tables sigma = 1 let the KL collapse code dimensions (planted-anomaly
    # AUROC 0.83 against 0.999 with 0.1; benchmarks/vae_sigma.py).
    sigma = 0.1 if params["sigma"] is None else params["sigma"]
    return ModelConfig(
        sample_shape=estimator.sample_shape_, latent_dim=params["latent_dim"], network=network,
        hidden_dims=tuple(hidden), activation=activation, bottleneck=estimator._bottleneck,
        likelihood=_likelihood(estimator, params, binary), sigma=sigma,
        n_classes=len(estimator.classes_) if estimator.is_conditional else 0,
        n_attributes=len(getattr(estimator, "attribute_names_", ())),
        corruption=CorruptionConfig(**_fields(params, CORRUPTION_FIELDS)),
        objective=ObjectiveConfig(**_fields(params, OBJECTIVE_FIELDS)))


def _likelihood(estimator, params: dict, binary: bool) -> str:
    scaled_to_unit = estimator.scaler_.method == "minmax"
    likelihood, binarize = params["likelihood"], bool(params.get("binarize", False))
    if binarize and (not scaled_to_unit or likelihood not in ("auto", "bernoulli")):
        raise InvalidInputError("binarize=True draws binary images from [0, 1] intensities: it "
                                "needs scaler 'minmax' (or 'auto' for images) and a Bernoulli "
                                "likelihood")
    if likelihood == "auto":
        return "bernoulli" if scaled_to_unit and (binary or binarize) else "gaussian"
    if likelihood == "bernoulli" and not scaled_to_unit:
        raise InvalidInputError("likelihood='bernoulli' needs data scaled to [0, 1]: "
                                "use scaler='minmax' (or 'auto' for images)")
    return likelihood


def _fields(params: dict, mapping: dict[str, str]) -> dict:
    """A choice config's fields set by a preset's parameters (see CORRUPTION_FIELDS)."""
    return {field: params[name] for name, field in mapping.items() if name in params}
