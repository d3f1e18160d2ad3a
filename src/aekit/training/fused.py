"""A training step for plain MLP autoencoders with the chain rule written out.

On a CPU, a training step of a small dense autoencoder costs more in operations than in
arithmetic: autograd records and replays some forty small operations for the objective alone
(the code's sampling, its KL, the likelihood, the means), each paying a dispatch and an
allocation, and then accumulates every parameter's gradient. ``DirectStep`` computes the same
loss and the same gradients directly: a forward pass that keeps each layer's output, and a
backward pass of matrix products, ReLU masks and the closed-form gradients of the Gaussian
code's KL and of the likelihood, written into each parameter's ``.grad`` with no graph.

It serves the models most fits train (``supports``): ReLU MLPs, a deterministic code or a
Gaussian one with one sample, a Bernoulli or Gaussian likelihood (fixed or learned variance),
the reconstruction loss or the beta-weighted ELBO (with KL warm-up), denoising or not, in one
process on the CPU. Anything else trains through the modules' forward pass and autograd. Under
bf16 the matrix products run in bf16 as autocast runs them; the code, the KL and the likelihood
stay in fp32. tests/test_fused_step.py holds the losses and gradients to autograd's;
benchmarks/step_ablation.py measures what it buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..model import AutoencoderNet
from ..nn.bottleneck import GaussianBottleneck
from ..nn.likelihood import LearnedGaussian
from .config import TrainConfig

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_learned")
_LOG_2PI = math.log(2 * math.pi)
_LOGVAR_RANGE = (GaussianBottleneck.LOGVAR_MIN, GaussianBottleneck.LOGVAR_MAX)


@dataclass
class StepResult:
    """What the loop keeps of a step (the fields of ``ForwardResult`` it reads)."""

    loss: torch.Tensor  # scalar: the objective the gradients are of
    nll: torch.Tensor  # (n,) -log p(x|z)
    kl: torch.Tensor  # (n,) KL(q(z|x) || p(z)); zeros for a deterministic code


def supports(model: AutoencoderNet, config: TrainConfig, processes: int) -> bool:
    """Whether ``DirectStep`` trains this model as its forward pass and autograd would."""
    cfg, objective = model.config, model.config.objective
    plain_objective = (objective.importance_samples == 1 and not objective.decomposed
                       and objective.capacity is None and objective.free_bits == 0)
    if not (isinstance(cfg.network, str) and cfg.network == "mlp" and cfg.activation == "relu"
            and cfg.likelihood in LIKELIHOODS and not cfg.n_classes and not cfg.n_attributes
            and plain_objective and processes == 1 and not config.compile):
        return False
    covered = {id(p) for layer in dense_layers(model) for p in (layer.weight, layer.bias)}
    params = list(model.parameters())
    return params[0].device.type == "cpu" and covered == {id(p) for p in params}


def dense_layers(model: AutoencoderNet) -> list[nn.Linear]:
    """The model's dense layers in the order data flows through them: the encoder's, the code's
    projection, the decoder's, its output layer."""
    layers = [m for m in model.encoder.body if isinstance(m, nn.Linear)] + [model.bottleneck.proj]
    return layers + [m for m in model.decoder.body if isinstance(m, nn.Linear)] + [model.decoder.head]


class DirectStep:
    """The step of one model (``supports(model, ...)`` must hold): its layers are looked up
    once, and each call computes the loss of ``model(x, corrupted=encoder_input, eps=eps,
    kl_weight=kl_weight)`` and writes its gradient into every parameter's ``.grad``.

    Each operation costs a dispatch and an allocation besides its arithmetic, so the step is
    written in as few as it can be: gradients go straight into each parameter's ``.grad``
    (``out=``), fp32 weights are used as they are, and the code's and the likelihood's terms are
    fused where torch has one operation for two."""

    def __init__(self, model: AutoencoderNet):
        self.model = model
        self.layers = dense_layers(model)
        self.params = [p for layer in self.layers for p in (layer.weight, layer.bias)]
        self.n_encoder = sum(isinstance(m, nn.Linear) for m in model.encoder.body) + 1

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, encoder_input: torch.Tensor | None, eps: torch.Tensor | None,
                 kl_weight: float, bf16: bool) -> StepResult:
        model, n_encoder = self.model, self.n_encoder
        if bf16:
            weights = [layer.weight.to(torch.bfloat16) for layer in self.layers]
            biases = [layer.bias.to(torch.bfloat16) for layer in self.layers]
        else:
            weights, biases = [layer.weight for layer in self.layers], [layer.bias for layer in self.layers]
        dtype = weights[0].dtype
        x = x.flatten(start_dim=1)
        inputs = x if encoder_input is None else encoder_input.flatten(start_dim=1)
        encoder = _forward(inputs.to(dtype), weights[:n_encoder], biases[:n_encoder])
        h = encoder[-1].float()
        if model.stochastic and eps is None:  # as the bottleneck does when given no noise
            eps = torch.randn(1, len(h), h.shape[1] // 2)
        code = _Code(h, eps[0] if model.stochastic else None)
        decoder = _forward(code.z.to(dtype), weights[n_encoder:], biases[n_encoder:])
        nll, grad_out = _likelihood(model, decoder[-1].float(), x)
        kl_factor = model.config.objective.beta * kl_weight
        loss = torch.add(nll, code.kl, alpha=kl_factor).mean() if code.stochastic else nll.mean()

        grads = self._gradient_buffers()
        grad_z = _backward(grad_out.to(dtype), decoder, weights[n_encoder:], grads[2 * n_encoder:], True)
        grad_h = code.backward(grad_z.float(), kl_factor / len(x))
        _backward(grad_h.to(dtype), encoder, weights[:n_encoder], grads[:2 * n_encoder], False)
        return StepResult(loss, nll, code.kl)

    def _gradient_buffers(self) -> list[torch.Tensor]:
        """Each parameter's ``.grad``, made (once) where it has none."""
        for param in self.params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        return [param.grad for param in self.params]


class _Code:
    """The bottleneck's part of the step: the code from the encoder's output ``h``, its KL, and
    the gradient of the loss with respect to ``h`` from the gradient with respect to the code."""

    def __init__(self, h: torch.Tensor, eps: torch.Tensor | None):
        self.stochastic = eps is not None
        if not self.stochastic:  # a deterministic code is the projection itself
            self.z, self.kl = h, h.new_zeros(len(h))
            return
        latent = h.shape[1] // 2
        self.h, self.mu, self.raw_logvar, self.eps = h, h[:, :latent], h[:, latent:], eps
        logvar = self.raw_logvar.clamp(*_LOGVAR_RANGE)
        self.std = logvar.mul(0.5).exp_()
        self.z = torch.addcmul(self.mu, self.std, eps)  # mu + sigma * eps
        self.var = self.std * self.std
        # Code.kl_per_dim's KL summed over the code: (mu^2 + sigma^2 - 1 - log sigma^2) / 2.
        self.kl = (self.var - logvar).addcmul_(self.mu, self.mu).sum(1).sub_(latent).mul_(0.5)

    def backward(self, grad_z: torch.Tensor, kl_per_row: float) -> torch.Tensor:
        """d loss / d h, where the loss adds ``kl_per_row`` times each row's KL."""
        if not self.stochastic:
            return grad_z
        grad_h = torch.empty_like(self.h)
        latent = grad_z.shape[1]
        torch.add(grad_z, self.mu, alpha=kl_per_row, out=grad_h[:, :latent])  # dz/dmu = 1; dKL/dmu = mu
        # dz/dlogvar = eps * sigma / 2; dKL/dlogvar = (sigma^2 - 1) / 2; zero where clamped, in
        # one operation as hardtanh's gradient (it also stops at a raw value of exactly -12 or 8,
        # where clamp's passes: the only difference).
        noise_grad = grad_z * self.eps
        grad_logvar = self.var.sub(1.0).mul_(0.5 * kl_per_row).addcmul_(noise_grad, self.std, value=0.5)
        torch.ops.aten.hardtanh_backward.grad_input(grad_logvar, self.raw_logvar, *_LOGVAR_RANGE,
                                                    grad_input=grad_h[:, latent:])
        return grad_h


def _likelihood(model: AutoencoderNet, out: torch.Tensor, x: torch.Tensor):
    """Each row's -log p(x|z) from the decoder's output, and d(mean over rows)/d output."""
    scale = 1.0 / len(x)
    if model.config.likelihood == "bernoulli":  # out: logits
        nll = F.softplus(out).sum(1).sub_(torch.linalg.vecdot(x, out))
        return nll, torch.sigmoid(out).sub_(x).mul_(scale)
    if model.config.likelihood == "gaussian_learned":
        return _learned_gaussian(out, x, scale)
    sigma = model.config.sigma  # out: the mean of a Gaussian of fixed sigma
    residual = out.sub_(x)
    log_norm = 0.5 * _LOG_2PI + math.log(sigma)
    nll = torch.linalg.vecdot(residual, residual).mul_(0.5 / sigma**2).add_(x.shape[1] * log_norm)
    return nll, residual.mul_(scale / sigma**2)


def _learned_gaussian(out: torch.Tensor, x: torch.Tensor, scale: float):
    """``out`` holds each dimension's mean and raw log-variance side by side (the decoder's
    ``(..., 2)`` view); log sigma^2 = floor + softplus(raw - floor), as ``LearnedGaussian``."""
    params = out.view(len(x), -1, 2)
    mean, raw = params[..., 0], params[..., 1]
    floor = LearnedGaussian.LOGVAR_MIN
    logvar = F.softplus(raw - floor) + floor
    residual = mean - x
    precision = torch.exp(-logvar)
    weighted = residual * residual * precision  # (x - mean)^2 / sigma^2
    nll = 0.5 * (weighted + logvar + _LOG_2PI).sum(1)
    grad_mean = residual * precision * scale
    # d nll / d logvar = (1 - (x - mean)^2 / sigma^2) / 2; d logvar / d raw = sigmoid(raw - floor)
    grad_raw = 0.5 * scale * (1.0 - weighted) * torch.sigmoid(raw - floor)
    return nll, torch.stack([grad_mean, grad_raw], dim=-1).view_as(out)


def _forward(a: torch.Tensor, weights, biases) -> list[torch.Tensor]:
    """The chain's input and each layer's output, ReLU after every layer but the last."""
    outputs = [a]
    for i, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        a = torch.addmm(bias, a, weight.t())
        if i < len(weights) - 1:
            a = a.relu_()
        outputs.append(a)
    return outputs


def _backward(grad: torch.Tensor, outputs, weights, grads, need_input: bool):
    """Write the gradients of each layer's weight and bias into ``grads`` (fp32, interleaved in
    layer order); return the gradient with respect to the chain's input (None unless
    ``need_input``)."""
    for i in reversed(range(len(weights))):
        if i < len(weights) - 1:  # through the ReLU: zero where its output is zero
            grad = torch.ops.aten.threshold_backward(grad, outputs[i + 1], 0)
        weight_grad, bias_grad = grads[2 * i], grads[2 * i + 1]
        if grad.dtype == weight_grad.dtype:
            torch.mm(grad.t(), outputs[i], out=weight_grad)
        else:
            weight_grad.copy_(grad.t().mm(outputs[i]))
        torch.sum(grad, 0, dtype=torch.float32, out=bias_grad)
        grad = grad.mm(weights[i]) if i > 0 or need_input else None
    return grad
