"""Which arithmetic a fit trains in: fp32, or bf16 autocast where it was measured faster."""

from __future__ import annotations

import torch

from ..model import AutoencoderNet

# bf16 autocast runs matrix products on the CPU's native bf16 units (AMX tiles, or AVX-512's
# BF16 dot products): 1.9-2.4x faster training where one weight matrix is large (784x400 dense:
# 313k entries; the conv nets' 2048x256 dense: 524k: 1.1-1.8x), but 5-23% slower for small MLPs
# (<= 33k entries), where casts cost more than they save (benchmarks/precision.py,
# docs/benchmarks.md). A structural rule, not a timing trial at fit time, so that the same
# random_state always trains in the same precision to the same weights on a given CPU.
BF16_MIN_WEIGHT_ENTRIES = 200_000


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 products natively: AMX tiles, or AVX-512 BF16 (an AMD EPYC
    without AMX: 1.87x at batch 128 and 2.29x at 512 for the 784-400 VAE). Without either, bf16
    autocast is emulated: on an AVX2-only CPU (the 2-core machine of 2026-11-22) every case of
    `python benchmarks/precision.py --quick` trained 4-17x slower in bf16 than in fp32."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # torch's own check (private)
    return cpu_has_amx() or bool(probe and probe())


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own check (private)
    return bool(probe and probe())


def use_bf16(precision: str, model: AutoencoderNet) -> bool:
    """Whether to train under bf16 autocast. "auto": on a CPU with native bf16 (AMX or AVX-512
    BF16), by the largest weight matrix (measured, above), else fp32; on a CUDA GPU, wherever the
    GPU supports bf16 (Ampere and later: its tensor cores); elsewhere (Apple's MPS) fp32."""
    if precision != "auto":
        return precision == "bf16"
    device = next(model.parameters()).device
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not cpu_has_native_bf16():
        return False
    largest = max((p.numel() for name, p in model.named_parameters() if name.endswith("weight")),
                  default=0)
    return largest >= BF16_MIN_WEIGHT_ENTRIES
