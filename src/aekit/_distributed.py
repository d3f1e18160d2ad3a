"""Training on several processes with PyTorch's DistributedDataParallel, launched by ``torchrun``.

torchrun starts one process per GPU (or per CPU share) and tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). A
``fit`` that finds itself in such a process joins the group (NCCL between GPUs, gloo on CPUs)
and trains its share of every batch; outside torchrun it is one process and nothing here costs
anything.

Why results do not depend on the number of processes N: every process draws the same batch
order and the same noise (corruption, reparameterisation, binarisation) for the whole global
batch from identically seeded generators, then keeps its own rows; the objective's batch means
are all-reduced sums divided by the global batch size (through autograd, so gradients are
exact), and DDP averages the gradients. What differs from one process is only the order in which
floating-point sums are added.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .data.stream import update_digest
from .errors import InvalidInputError


def launched() -> bool:
    """Whether this process is one of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Whether this process is torchrun's rank 0, or not under torchrun at all."""
    return int(os.environ.get("RANK", "0")) == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another process died (torchrun then
    stops the rest; the first failure is the one to read)."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("Connection closed by peer" in text or "gloo" in text)


@dataclass(frozen=True)
class Group:
    """This process's place among the N that train one model (N = 1: a plain process)."""

    rank: int = 0
    size: int = 1
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """The process that writes files and shows progress (rank 0)."""
        return self.rank == 0

    def rows(self, n: int) -> slice:
        """This process's contiguous share of a global batch of n rows (sizes differ by <= 1)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def batch_mean(self, n: int):
        """A function taking a tensor of this process's rows to their mean over the whole global
        batch of n rows (dim 0), identical on every process and differentiable."""
        if self.size == 1:
            return mean_over_rows
        return lambda t: _SumOverProcesses.apply(t.sum(0)) / n

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (in place, not differentiable)."""
        if self.size > 1:
            dist.all_reduce(tensor)
        return tensor

    def agree(self, ok: bool, message: str) -> None:
        """Raise ``InvalidInputError`` on every process if the check failed on any: a process that
        stopped alone would leave the others waiting for it."""
        if self.size == 1:
            if not ok:
                raise InvalidInputError(message)
            return
        verdicts: list = [None] * self.size
        dist.all_gather_object(verdicts, None if ok else message)
        failed = [(rank, text) for rank, text in enumerate(verdicts) if text is not None]
        if failed:
            rank, text = failed[0]
            raise InvalidInputError(f"process {rank}: {text}")

    def same_everywhere(self, value):
        """Rank 0's ``value`` on every process (used for a seed drawn from an unseeded source)."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def check_same_data(self, *data) -> None:
        """Every process must train on identical data: compare a digest of every byte (the data
        are tensors, arrays or ``DiskArray``s)."""
        if self.size == 1:
            return
        h = hashlib.sha256()
        for item in data:
            if item is not None:
                update_digest(h, item)
        digests: list = [None] * self.size
        dist.all_gather_object(digests, h.hexdigest())
        differing = [rank for rank, d in enumerate(digests) if d != digests[0]]
        self.agree(not differing, f"the data of process(es) {differing} differ from process 0's: "
                                  "every process must load the same data")


class _SumOverProcesses(torch.autograd.Function):
    """The sum of a tensor over all processes, with its gradient: the sum of every process's
    gradient of that sum (torch's own differentiable all-reduce is deprecated)."""

    @staticmethod
    def forward(ctx, tensor):
        tensor = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad


def mean_over_rows(t: torch.Tensor) -> torch.Tensor:
    """The batch mean of one process that holds the whole batch."""
    return t.mean(0)


SINGLE = Group()


def join(device: torch.device) -> Group:
    """The group this process trains in: ``SINGLE`` outside torchrun; under torchrun, the default
    process group (created here if the caller's script has not created one)."""
    if not launched():
        return SINGLE
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
        atexit.register(_leave)
    backend = str(dist.get_backend())
    if device.type != "cuda" and backend == "nccl":
        raise InvalidInputError(f"the process group uses NCCL, which needs CUDA tensors, but the model "
                                f"is on {device}: use device='cuda' (or a gloo process group)")
    return Group(dist.get_rank(), dist.get_world_size(), backend)


LEAVE_TIMEOUT = timedelta(seconds=60)


def _leave() -> None:
    """At exit, leave the group together: a gloo process whose peer had already torn its
    connections down aborted in its destructor now and then ("terminate called without an
    active exception", exit code -6 after a complete run). A peer that never comes (it
    failed) is waited for at most LEAVE_TIMEOUT."""
    if not dist.is_initialized():
        return
    if dist.get_backend() == "gloo":
        with contextlib.suppress(RuntimeError):
            dist.monitored_barrier(timeout=LEAVE_TIMEOUT)
    dist.destroy_process_group()
