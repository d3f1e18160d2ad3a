"""Adam's update without the optimiser's per-call Python.

``torch.optim.Adam(fused=True).step()`` spends most of its time on the host deciding what to
do (checking each parameter, grouping tensors by device and dtype) before one fused kernel
updates every parameter. A fit asks the same question every step with the same answer, so
``AdamStep`` asks it once and then calls the same kernel with the same arguments: the weights
and the optimiser's state come out bit for bit as ``step()`` leaves them, its ``state_dict``
(checkpoints) is untouched, and a small table's fit takes ~8% less time on a 2-core CPU
(benchmarks/step_ablation.py).
"""

from __future__ import annotations

import torch

# torch's own kernels, the ones ``Adam(fused=True)`` calls: the step counts' increment and the
# fused update (private to torch, so looked up here and the optimiser's step() used without them).
_COUNT = getattr(torch, "_foreach_add_", None)
_KERNEL = getattr(torch, "_fused_adam_", None)


class AdamStep:
    """``step()`` for a fused ``torch.optim.Adam``; falls back to ``optimizer.step()`` whenever
    the kernel's arguments cannot be taken as they were (first step, a parameter without a
    gradient, several parameter groups or devices, amsgrad, decoupled weight decay)."""

    def __init__(self, optimizer: torch.optim.Adam):
        self.optimizer = optimizer
        self._state: tuple | None = None  # the state tensors, once the optimiser has made them
        # False once this optimiser is seen not to be one the direct call reproduces.
        self._direct = _KERNEL is not None and _COUNT is not None

    def __call__(self) -> None:
        group = self.optimizer.param_groups[0]
        grads = [p.grad for p in group["params"]]
        if not self._ready(group, grads):
            self.optimizer.step()
            return
        exp_avgs, exp_avg_sqs, steps = self._state
        _COUNT(steps, 1)
        _KERNEL(group["params"], grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1],
                weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                grad_scale=None, found_inf=None)

    def _ready(self, group: dict, grads: list) -> bool:
        if self._direct and self._state is None:
            self._direct = _qualifies(self.optimizer)
            if self._direct and all(p in self.optimizer.state for p in group["params"]):
                self._state = _state_tensors(self.optimizer, group["params"])
        return self._direct and self._state is not None and all(g is not None for g in grads)


def _qualifies(opt: torch.optim.Optimizer) -> bool:
    """Whether the direct call does exactly what this optimiser's ``step()`` does."""
    if not isinstance(opt, torch.optim.Adam) or len(opt.param_groups) != 1:
        return False
    group = opt.param_groups[0]
    params = group["params"]
    plain = (group.get("fused") and not group.get("amsgrad") and not group.get("capturable")
             and not group.get("differentiable") and not group.get("decoupled_weight_decay")
             and not any(isinstance(v, torch.Tensor) for v in (group["lr"], *group["betas"])))
    return bool(plain and params and all(p.device == params[0].device and p.dtype == params[0].dtype
                                         and not p.is_complex() for p in params))


def _state_tensors(opt: torch.optim.Optimizer, params: list) -> tuple:
    states = [opt.state[p] for p in params]
    return [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [s["step"] for s in states]
