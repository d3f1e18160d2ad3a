"""The four presets: flat siblings that fix the bottleneck and the conditioning and expose the
parameters that make sense for them (scikit-learn wants each ``__init__`` spelled out: its
signature is how ``get_params`` and ``clone`` know the parameters). ``ConditionalVAE`` takes
exactly ``VAE``'s parameters, so it inherits its ``__init__``."""

from __future__ import annotations

from ..persistence import register
from . import parameters
from .base import BaseAutoEncoder
from .parameters import ATTRIBUTES_DOC, COMMON_DOC, VARIATIONAL_DOC, corruption_doc


@register
class AutoEncoder(BaseAutoEncoder):
    __doc__ = """A classic autoencoder: deterministic code, trained to reconstruct its input.
    """ + COMMON_DOC + ATTRIBUTES_DOC + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    >>> ae = aekit.AutoEncoder(latent_dim=2, epochs=5, verbose=0, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (200, 2)
    >>> ae.reconstruct(X).shape
    (200, 6)
    """

    def __init__(self, latent_dim=8, *, network="auto", hidden_dims=None, activation="auto",
                 likelihood="auto", sigma=None, scaler="auto", epochs="auto", batch_size=128,
                 learning_rate=1e-3, lr_schedule="cosine", validation_fraction=0.1, patience=10,
                 precision="auto", random_state=None, verbose=1, device="auto", deterministic=False,
                 compile=False):
        self.latent_dim = latent_dim
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


@register
class DenoisingAutoEncoder(BaseAutoEncoder):
    __doc__ = """An autoencoder that sees a corrupted input and is rewarded for the clean one.
    """ + COMMON_DOC + corruption_doc("gaussian", 0.3) + ATTRIBUTES_DOC + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).random((100, 1, 8, 8)).astype("float32")
    >>> dae = aekit.DenoisingAutoEncoder(latent_dim=4, epochs=2, verbose=0).fit(X)
    >>> dae.reconstruct(X).shape
    (100, 1, 8, 8)
    """

    _parameter_constraints = {**parameters.SHARED, **parameters.CORRUPTION}

    def __init__(self, latent_dim=8, *, corruption="gaussian", corruption_level=0.3,
                 mask_mode="pixels", patch_size=4, network="auto", hidden_dims=None,
                 activation="auto", likelihood="auto", sigma=None, scaler="auto", epochs="auto",
                 batch_size=128, learning_rate=1e-3, lr_schedule="cosine",
                 validation_fraction=0.1, patience=10, precision="auto", random_state=None,
                 verbose=1, device="auto", deterministic=False, compile=False):
        self.latent_dim = latent_dim
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.mask_mode = mask_mode
        self.patch_size = patch_size
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


_VAE_SECTIONS = COMMON_DOC + VARIATIONAL_DOC + corruption_doc("none", 0.0)


@register
class VAE(BaseAutoEncoder):
    __doc__ = """A variational autoencoder: q(z|x) is a diagonal Gaussian, the prior N(0, I).

    Trains on the ELBO (or, with ``importance_samples > 1``, the tighter IWAE bound);
    ``sample`` draws from the prior, ``log_likelihood`` estimates log p(x) by importance sampling.
    """ + _VAE_SECTIONS + ATTRIBUTES_DOC + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(200, 5)).astype("float32")
    >>> vae = aekit.VAE(latent_dim=2, epochs=5, verbose=0, random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 5)
    >>> bool((vae.log_likelihood(X[:10], k=50) >= vae.elbo(X[:10]) - 1.0).all())
    True
    """

    _bottleneck = "gaussian"
    _parameter_constraints = {**parameters.SHARED, **parameters.VARIATIONAL, **parameters.CORRUPTION}

    def __init__(self, latent_dim=8, *, beta=1.0, kl_warmup_epochs=0, free_bits=0.0,
                 importance_samples=1, mi_weight=None, tc_weight=None, dim_kl_weight=None,
                 capacity=None, capacity_epochs=0, attribute_weight=100.0, attribute_share=0.1,
                 binarize=False, corruption="none", corruption_level=0.0,
                 mask_mode="pixels", patch_size=4, network="auto", hidden_dims=None,
                 activation="auto", likelihood="auto", sigma=None, scaler="auto", epochs="auto",
                 batch_size=128, learning_rate=1e-3, lr_schedule="cosine",
                 validation_fraction=0.1, patience=10, precision="auto", random_state=None,
                 verbose=1, device="auto", deterministic=False, compile=False):
        self.latent_dim = latent_dim
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.free_bits = free_bits
        self.importance_samples = importance_samples
        self.mi_weight = mi_weight
        self.tc_weight = tc_weight
        self.dim_kl_weight = dim_kl_weight
        self.capacity = capacity
        self.capacity_epochs = capacity_epochs
        self.attribute_weight = attribute_weight
        self.attribute_share = attribute_share
        self.binarize = binarize
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.mask_mode = mask_mode
        self.patch_size = patch_size
        self.network = network
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = sigma
        self.scaler = scaler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.deterministic = deterministic
        self.compile = compile


@register
class ConditionalVAE(VAE):
    __doc__ = """A VAE whose decoder is conditioned on a class label: p(x | z, y).

    ``fit(X, y)`` needs labels. The encoder q(z|x) sees only x, so ``transform(X)`` needs no
    labels (scikit-learn's contract) and the code is pushed to hold what the label does not:
    decode one code with another label to change the class and keep the style. The bound is
    a valid ELBO on log p(x|y) for any q, so ``log_likelihood(X, y)`` estimates log p(x|y).
    Methods that decode (``reconstruct``, ``inverse_transform``, ``sample``,
    ``score_samples``, ``log_likelihood``) take ``y``.
    """ + _VAE_SECTIONS + ATTRIBUTES_DOC + """
    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(120, 5)).astype("float32")
    >>> y = np.repeat(["a", "b", "c"], 40)
    >>> cvae = aekit.ConditionalVAE(latent_dim=2, epochs=3, verbose=0).fit(X, y)
    >>> cvae.sample(2, y="b").shape
    (2, 5)
    """

    _conditional = True
