"""Running a fitted model over data: padded batches, codes, decodings and bounds.

Every batch is padded with zeros to one fixed size: matrix-product kernels round differently
for different row counts, so with one shape for every batch an input's code or score is
bit-identical whatever else is in the call. The size is throughput-sized by default
(``AutoencoderNet.inference_batch_size``); :func:`inference_batch_size` sets a smaller one for
a block of code that scores a few inputs at a time (a live stream, an interactive page).
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
import torch
from scipy.special import logsumexp

from ..data.feeding import host_tensor

_ROWS: contextvars.ContextVar[int | None] = contextvars.ContextVar("aekit_inference_rows", default=None)


@contextlib.contextmanager
def inference_batch_size(rows: int):
    """Within the block (in this thread), models evaluate in padded batches of ``rows`` inputs
    instead of thousands: for callers that score a few inputs at a time, where padding each call
    to a large batch would cost more than the work. Results are bit-identical across calls made
    inside one such block (not with calls outside it, whose batches have another shape).

    >>> import aekit
    >>> with aekit.inference_batch_size(64):
    ...     pass  # model.score_samples(x) here pads x to 64 rows, not thousands
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    token = _ROWS.set(rows)
    try:
        yield
    finally:
        _ROWS.reset(token)


def _pad_rows(batch: torch.Tensor | None, size: int) -> torch.Tensor | None:
    if batch is None or len(batch) == size:
        return batch
    return torch.cat([batch, batch.new_zeros((size - len(batch), *batch.shape[1:]))])


def _as_tensor(part) -> torch.Tensor:
    return part if isinstance(part, torch.Tensor) else host_tensor(np.ascontiguousarray(part))


def batches(estimator, *parts, k: int = 1):
    """Yield (n_real, batch, ...) over aligned parts (rows, tensors; None passes through), every
    batch padded to one size and on the model's device."""
    device = estimator.device_in_use()
    size = _ROWS.get() or estimator.model_.inference_batch_size(k)
    for start in range(0, len(parts[0]), size):
        chunk = [None if p is None else _as_tensor(p[start:start + size]) for p in parts]
        yield (len(chunk[0]), *[None if c is None else _pad_rows(c, size).to(device, non_blocking=True)
                                for c in chunk])


def encode_mean_batches(estimator, rows):
    """The latent means of ``rows``, one inference batch at a time (as arrays)."""
    for n, xb in batches(estimator, rows):
        with torch.inference_mode():  # (left before yielding: the caller's code runs as usual)
            codes = estimator.model_.encode(estimator.scaler_.transform(xb), sample=False).mean[:n]
            codes = codes.cpu().numpy()
        yield codes


def kl_per_dimension(estimator, rows) -> np.ndarray:
    """KL(q(z_d|x) || N(0, 1)) of each code dimension d, averaged over ``rows``."""
    total, n_total = 0.0, 0
    for n, xb in batches(estimator, rows):
        with torch.inference_mode():
            code = estimator.model_.encode(estimator.scaler_.transform(xb), sample=False)
            total = total + code.kl_per_dim()[:n].double().sum(0).cpu().numpy()
        n_total += n
    return total / max(n_total, 1)


def encode_means(estimator, rows) -> np.ndarray:
    return np.concatenate(list(encode_mean_batches(estimator, rows)))


@torch.inference_mode()
def decode_means(estimator, Z: torch.Tensor, y_idx) -> np.ndarray:
    """The likelihood's mean for codes ``Z``, in the input's units and shape."""
    net, out = estimator.model_, []
    for n, zb, yb in batches(estimator, Z, y_idx):
        out.append(estimator.scaler_.inverse(net.likelihood.mean(net.decode(zb, yb)[:n])))
    return to_input_shape(estimator, torch.cat(out))


def to_input_shape(estimator, x: torch.Tensor) -> np.ndarray:
    return x.cpu().reshape(len(x), *estimator.input_shape_).numpy()


@torch.inference_mode()
def bound(estimator, rows, y_idx, k: int, draws: int = 1) -> np.ndarray:
    """Per-sample ELBO (k = 1) or importance-sampled bound (k > 1) in preprocessed units,
    averaged over ``draws`` independent draws.

    The noise is seeded and shared by all inputs of a draw (common random numbers), so an
    input's score does not depend on the order or company it is scored in. A conditional
    model given no labels returns log sum_c p(c) p(x|c), the bound on log p(x).
    """
    if estimator.is_conditional and y_idx is None:
        per_class = [bound(estimator, rows, torch.full((len(rows),), c), k, draws)
                     for c in range(len(estimator.classes_))]
        return logsumexp(np.log(estimator.class_prior_)[:, None] + np.stack(per_class), axis=0)
    total = torch.zeros(len(rows), dtype=torch.float64)
    device = estimator.device_in_use()
    noise = scoring_noise(estimator, k, draws)
    for draw in range(draws):
        eps = None if noise is None else noise[draw].to(device)
        start = 0
        for n, xb, yb in batches(estimator, rows, y_idx, k=k):
            value = estimator.model_(estimator.scaler_.transform(xb), yb, k=k, eps=eps).bound[:n]
            total[start:start + n] += value.cpu().double()
            start += n
    return (total / draws).numpy()


def scoring_noise(estimator, k: int, draws: int = 1) -> list[torch.Tensor] | None:
    """The codes' noise behind a variational model's scores: ``draws`` tensors of (k, 1, latent),
    drawn on the CPU from the fit's seed (the same noise on every device, in every call; what an
    exported score graph is given)."""
    if not estimator.is_variational:
        return None
    generator = torch.Generator().manual_seed(estimator.seed_)
    return [torch.randn(k, 1, estimator.latent_dim, generator=generator) for _ in range(draws)]


@torch.inference_mode()
def reconstruction_error(estimator, rows, y_idx, per_dim: bool) -> np.ndarray:
    """-log p(x | z = the code's mean), per sample or per data dimension."""
    net, out = estimator.model_, []
    for n, xb, yb in batches(estimator, rows, y_idx):
        xb = estimator.scaler_.transform(xb)
        params = net.decode(net.encode(xb, sample=False).mean, yb)
        nll = net.likelihood.nll_per_dim(params.unsqueeze(0), xb)[0][:n]
        out.append(nll if per_dim else nll.flatten(1).sum(1))
    errors = torch.cat(out).cpu().double()
    return errors.reshape(len(errors), *estimator.input_shape_).numpy() if per_dim else errors.numpy()
