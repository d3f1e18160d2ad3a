"""The presets' parameters: what each accepts (checked once, when ``fit`` starts) and what it
means (the docstrings' Parameters sections, written once here)."""

from __future__ import annotations

from .. import _params as P
from ..nn.corruption import KINDS as CORRUPTIONS
from ..nn.corruption import MASK_MODES
from ..nn.custom import CustomNetwork
from ..nn.layers import ACTIVATIONS
from ..nn.likelihood import KINDS as LIKELIHOODS
from ..nn.networks import KINDS as NETWORKS
from ..preprocessing import METHODS as SCALERS
from ..training import LR_SCHEDULES, PRECISIONS

# Constraints of the parameters every preset has; presets add those of the choices they expose.
SHARED = {
    "latent_dim": [P.Int(1, 1 << 20)],
    "network": [P.OneOf(("auto", *NETWORKS)), P.Instance(CustomNetwork)],
    "hidden_dims": [None, P.Widths()],
    "activation": [P.OneOf(("auto", *ACTIVATIONS))],
    "likelihood": [P.OneOf(("auto", *LIKELIHOODS))],
    "sigma": [None, P.Float(0, low_open=True)],
    "scaler": [P.OneOf(SCALERS)],
    "epochs": [P.OneOf(("auto",)), P.Int(1)],
    "batch_size": [P.Int(1)],
    "learning_rate": [P.Float(0, low_open=True)],
    "lr_schedule": [P.OneOf(LR_SCHEDULES)],
    "validation_fraction": [P.Float(0, 1, high_open=True)],
    "patience": [None, P.Int(1)],
    "precision": [P.OneOf(PRECISIONS)],
    "random_state": [P.Seed()],
    "verbose": [P.Int(0), P.Bool()],
    "device": [P.Instance(str)],
    "deterministic": [P.Bool()],
    "compile": [P.Bool()],
}
CORRUPTION = {
    "corruption": [P.OneOf(CORRUPTIONS)], "corruption_level": [P.Float(0)],
    "mask_mode": [P.OneOf(MASK_MODES)], "patch_size": [P.Int(1)],
}
VARIATIONAL = {
    "beta": [P.Float(0)], "kl_warmup_epochs": [P.Int(0)], "free_bits": [P.Float(0)],
    "importance_samples": [P.Int(1, 4096)], "binarize": [P.Bool()], "mi_weight": [None, P.Float(0)],
    "tc_weight": [None, P.Float(0)], "dim_kl_weight": [None, P.Float(0)],
    "capacity": [None, P.Float(0)], "capacity_epochs": [P.Int(0)], "attribute_weight": [P.Float(0)],
    "attribute_share": [P.Float(0, 0.9)],
}
# Which estimator parameter sets which field of a choice's config. A preset that does not
# expose a parameter gets the config's own default: each default is stated once.
CORRUPTION_FIELDS = {"corruption": "kind", "corruption_level": "level", "mask_mode": "mask_mode",
                     "patch_size": "patch_size"}
OBJECTIVE_FIELDS = {"beta": "beta", "kl_warmup_epochs": "kl_warmup_epochs", "free_bits": "free_bits",
                    "mi_weight": "mi_weight", "tc_weight": "tc_weight", "dim_kl_weight": "dim_kl_weight",
                    "importance_samples": "importance_samples", "capacity": "capacity",
                    "capacity_epochs": "capacity_epochs", "attribute_weight": "attribute_weight"}


def check(estimator) -> None:
    """Check every hyper-parameter of ``estimator`` against its ``_parameter_constraints``."""
    P.check_params(type(estimator).__name__, estimator.get_params(), estimator._parameter_constraints)


COMMON_DOC = """
    Parameters
    ----------
    latent_dim : int, default=8
        Size of the code.
    network : {"auto", "mlp", "conv", "resnet", "temporal"} or aekit.nn.custom.CustomNetwork, default="auto"
        Encoder/decoder family (docs/networks.md): "conv" (stride-2 convolutions), "resnet"
        (residual blocks with GroupNorm; slower on a CPU), "temporal" (1-D residual
        convolutions over time-series windows, (time,) or (channels, time) samples).
        "auto" picks "conv" for images and "mlp" for vectors (``aekit train --window`` picks
        "temporal"). A ``CustomNetwork(encoder, decoder, **options)`` builds your own modules
        from factories saved by import path (loading such a model needs ``trust_code=True``;
        docs/networks.md).
    hidden_dims : tuple of int or None, default=None
        Widths of the dense layers between input and code (the decoder mirrors them). None
        picks (256, 128) for an MLP, (512,) after the "conv" network's convolutions and
        (256,) after the residual ones. () with ``activation="linear"`` makes a linear
        autoencoder.
    activation : {"auto", "relu", "gelu", "silu", "tanh", "leaky_relu", "linear"}, default="auto"
        "auto" is SiLU for the ``"conv"`` network and ReLU for the others: on Fashion-MNIST
        (k = 10) the conv autoencoder (dense width 256) reached a test SSE of 8.36 in 26 epochs
        with SiLU, where ReLU needed 80 epochs for 8.62 (benchmarks/NOTES.md, "SiLU for the conv
        network").
    likelihood : {"auto", "bernoulli", "gaussian", "gaussian_learned"}, default="auto"
        How reconstructions are judged. "auto": Bernoulli for binary data (two values),
        else a Gaussian with fixed standard deviation ``sigma``.
    sigma : float or None, default=None
        Standard deviation of the fixed-variance Gaussian likelihood, in preprocessed units.
        None: 0.1, a tenth of the data's scale (the [0, 1] range of images, one standard
        deviation of standardised features). Smaller values weigh reconstruction more against
        the KL term of a VAE.
    scaler : {"auto", "minmax", "standard", "none"}, default="auto"
        Preprocessing stored in the model: "auto" scales images, uint8 and binary data to [0, 1]
        and standardises other vectors per feature.
    epochs : int or "auto", default="auto"
        The most epochs to train (early stopping may end sooner); each is one pass over the
        training data, validated once. "auto": 50, and where 50 passes make fewer than 2,000
        optimisation steps (small data sets: 500 images are 4 batches), 1,000 for table rows
        (flat vectors), as many passes as make them: for table rows grouped into about 50
        epochs of several passes each, for images and windows one pass an epoch, with
        ``patience`` stretched in proportion (benchmarks/training_budget.py, tabular_budget.py).
    batch_size : int, default=128
    learning_rate : float, default=1e-3
        Adam's step size.
    lr_schedule : {"cosine", "constant"}, default="cosine"
    validation_fraction : float, default=0.1
        Held out for early stopping; the weights with the best validation loss are kept.
    patience : int or None, default=10
        Epochs without validation improvement before stopping (stretched with "auto" epochs);
        None trains all epochs.
    precision : {"auto", "fp32", "bf16"}, default="auto"
        bf16 autocast for training where it was measured faster on CPU (docs/benchmarks.md).
    random_state : int, RandomState or None, default=None
        The same int gives identical weights on CPU.
    verbose : int, default=1
        1 shows a progress bar (on terminals only); 0 is silent.
    device : str, default="auto"
        Where to train and run: "auto" (the first CUDA GPU, else Apple's MPS, else the CPU), or a
        torch device such as "cpu", "cuda:1" or "mps". A saved model is device-free: it loads
        anywhere and runs on its ``device`` (``set_params(device=...)`` moves it). ``device_``
        records where the fit ran. Under torchrun, ``fit`` trains with DistributedDataParallel,
        each process on its share of every batch (docs/gpus.md).
    deterministic : bool, default=False
        Use only deterministic kernels (``torch.use_deterministic_algorithms``), so that a seed
        gives the same weights on a GPU too, at some cost in speed. CPU training is
        deterministic either way.
    compile : bool, default=False
        ``torch.compile`` the encoder and decoder before training (a compile costs tens of
        seconds; see docs/gpus.md for where it pays).
"""


def corruption_doc(kind: str, level: float) -> str:
    """The corruption parameters' section, with a preset's defaults."""
    return f"""
    corruption : {{"gaussian", "salt_pepper", "mask", "greyscale", "none"}}, default="{kind}"
        What the encoder sees in training: Gaussian noise, flipped entries, masked entries
        (zeroed after preprocessing) or greyscale (for colourisation).
    corruption_level : float, default={level}
        Noise standard deviation (gaussian, preprocessed units), or the fraction of entries
        flipped (salt_pepper) or masked (mask).
    mask_mode : {{"pixels", "patches", "features"}}, default="pixels"
    patch_size : int, default=4
        Side of the square patches masked when ``mask_mode="patches"``.
"""


VARIATIONAL_DOC = """
    beta : float, default=1.0
        Weight of the KL term (beta-VAE: > 1 for more disentangled codes).
    kl_warmup_epochs : int, default=0
        Epochs over which the KL weight ramps from 0 to ``beta``.
    free_bits : float, default=0.0
        Nats per latent dimension below which the KL is not penalised.
    importance_samples : int, default=1
        Codes drawn per input in training (k); k > 1 trains on the tighter IWAE bound.
    mi_weight, tc_weight, dim_kl_weight : float or None, default=None
        beta-TCVAE (Chen et al., 2018): split the KL term into the index-code mutual information,
        the total correlation between code dimensions and the dimension-wise KL, each with its
        weight (None: ``beta``); setting any of them splits it. ``tc_weight`` > 1 with the
        others at 1 penalises only the dependence between code dimensions, which encourages
        each to carry one factor. q(z) is estimated on each batch (minibatch-weighted
        sampling), so batches of at least ~64 inputs are advised.
    capacity : float or None, default=None
        Capacity annealing (Burgess et al., 2018): train on -log p(x|z) + beta * |KL - C|, the
        target C (nats) rising from 0 to ``capacity`` over ``capacity_epochs``, so the code
        takes in information a little at a time and the factors that matter most for the
        reconstruction enter first (with ``beta`` large, e.g. 100-1000, to hold the KL on C).
    capacity_epochs : int, default=0
        Epochs over which the capacity target rises (0: at ``capacity`` from the start).
    attribute_weight : float, default=100.0
        With ``fit(X, attributes=A)`` (weak supervision): the weight of the squared error
        between code dimension j's mean and attribute j (standardised), over the known values.
        It must stand up to the reconstruction term, which with the default sigma (a tenth of
        the data's scale) weighs each squared error 50-fold.
    attribute_share : float, default=0.1
        With ``fit(X, attributes=A)`` where few rows have known attributes: those rows are
        drawn more often, so that they make up at least this share of each epoch's rows (an
        epoch grows by the repeats; 0: every row once). With the factors of 1% of 100,000
        sprites, drawn as a tenth of each epoch, beta-TCVAE reached a median MIG of 0.364 in
        20 epochs; drawn once, 0.265 (benchmarks/disentanglement.py, docs/latent.md).
    binarize : bool, default=False
        Dynamic binarisation: train on a fresh Bernoulli draw of each batch (pixel intensity =
        probability of a 1), with a Bernoulli likelihood; the standard protocol for likelihoods
        of grey-level digits and clothes. Validation uses the intensities themselves, whose
        Bernoulli cross-entropy is the expected loss over binarisations. Score binarised data.
"""


ATTRIBUTES_DOC = """
    Attributes
    ----------
    model_ : aekit.model.AutoencoderNet
        The trained network (encoder, bottleneck, decoder, likelihood).
    scaler_ : aekit.preprocessing.Scaler
        The preprocessing fitted on the training data, applied per batch.
    history_ : dict
        ``train_loss``, ``val_loss`` and ``lr`` per epoch.
    n_iter_ : int
        Epochs trained.
    precision_ : {"fp32", "bf16"}
        The arithmetic the fit trained in.
    seed_ : int
        The seed the fit drew all its randomness from (``random_state``, or one drawn).
    training_data_sha256_ : str
        A SHA-256 of the training data's bytes (shape and dtype included): with ``seed_``,
        ``aekit.training.held_out_rows`` tells which of them the fit held out for validation,
        which ``AnomalyDetector.from_fitted`` uses to set thresholds on rows not trained on.
"""
