"""Which device a model trains and runs on: ``"auto"`` or any torch device string.

``"auto"`` is the first CUDA GPU when one is available, else Apple's MPS, else the CPU. A device
that this machine does not have is an error naming what it has, never a silent fall-back.
Under torchrun, ``"auto"`` and ``"cuda"`` mean this process's own GPU, ``cuda:LOCAL_RANK``.
"""

from __future__ import annotations

import torch

from ._distributed import launched, local_rank
from .errors import InvalidInputError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank() if launched() else torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"device {spec!r} is not a torch device: use 'auto', 'cpu', 'cuda', "
                                "'cuda:1' or 'mps'") from exc
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index if device.index is not None else (local_rank() if launched() else 0)
        if index >= count:
            raise InvalidInputError(f"device {spec!r} is not available: this machine has {count} CUDA "
                                    "device(s); use device='auto' or 'cpu' (under torchrun, at most "
                                    "one process per GPU)")
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidInputError(f"device {spec!r} is not available on this machine; use 'auto' or 'cpu'")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"device {spec!r} is not supported: use 'auto', 'cpu', 'cuda[:N]' or 'mps'")
    return device


def describe(device: torch.device) -> str:
    """A human name for metrics: the GPU's model, or the device type."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
