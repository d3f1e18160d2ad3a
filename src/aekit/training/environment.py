"""What surrounds a fit: its seed, its kernels, and the memory its weights need."""

from __future__ import annotations

import contextlib
import os

import torch

from .._memory import require_memory
from ..model import AutoencoderNet, ModelConfig
from ..nn.custom import CustomNetwork


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None):
    """Run a block on torch's global RNGs (the CPU's and ``device``'s) seeded with ``seed``,
    leaving the caller's RNGs untouched."""
    accelerator = device is not None and device.type in ("cuda", "mps")
    devices = [device.index or 0] if accelerator else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if accelerator else "cuda"):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def deterministic(enabled: bool, device: torch.device):
    """Only deterministic kernels inside the block (when ``enabled``); the caller's setting after."""
    if not enabled:
        yield
        return
    if device.type == "cuda":
        # cuBLAS reads this when it first makes its workspace: set before the first matrix
        # product of the process (or in the environment) for it to take effect.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]


def require_memory_for_weights(config: ModelConfig, device: torch.device) -> None:
    """Refuse, in one line, a model whose weights cannot fit in memory (a conv net's dense layer
    grows with the image's area: 30000x30000 images make ~460 billion weights), before any is
    allocated. Counted on the meta device, which allocates nothing. Weights are initialised on
    the CPU; training on the CPU also holds their gradients and Adam's two moments. A custom
    network is the user's own to size (and its factories may not run on the meta device)."""
    if isinstance(config.network, CustomNetwork):
        return
    with torch.device("meta"):
        n_weights = sum(p.numel() for p in AutoencoderNet(config).parameters())
    copies = 4 if device.type == "cpu" else 1
    require_memory(copies * n_weights * 4, f"a model of {n_weights:,} weights for samples of shape "
                   f"{'x'.join(map(str, config.sample_shape))}",
                   "use smaller images (resize them) or smaller hidden_dims")
