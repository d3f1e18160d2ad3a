"""Training checkpoints as safetensors: weights, optimiser moments, RNG states, history.

``torch.save`` would pickle; a checkpoint is a file a user may hand back to us (``--resume``),
so everything is stored as named tensors plus a JSON header, and loading runs no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ._atomic import atomic_path
from .errors import ModelFileError

FORMAT = "aekit-checkpoint-1"


@dataclass
class TrainState:
    """What a resumed run needs beyond the model's weights."""

    epoch: int = 0  # epochs completed
    global_step: int = 0
    history: dict = field(default_factory=lambda: {"train_loss": [], "val_loss": [], "lr": []})
    best_val: float = float("inf")
    bad_epochs: int = 0
    stopped_early: bool = False
    precision: str = "fp32"  # what training ran in: "fp32" or "bf16" (autocast)


def save(path: Path, fingerprint: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         generator: torch.Generator, state: TrainState, best_weights: dict | None) -> None:
    tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    if best_weights is not None:
        tensors.update({f"best.{k}": v.contiguous() for k, v in best_weights.items()})
    opt = optimizer.state_dict()
    for index, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.batches"] = generator.get_state()
    header = {"format": FORMAT, "fingerprint": fingerprint, "state": state.__dict__,
              "param_groups": opt["param_groups"]}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"aekit": json.dumps(header)})


def load(path: Path, fingerprint: str, model: torch.nn.Module,
         optimizer: torch.optim.Optimizer, generator: torch.Generator) -> tuple[TrainState, dict | None]:
    """Restore a run in place; returns its state and the best weights seen so far."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads((f.metadata() or {})["aekit"])
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (OSError, SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"cannot read checkpoint {path}: {exc}. Delete it to start afresh.") from exc
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an aekit checkpoint (format {header.get('format')!r})")
    if header["fingerprint"] != fingerprint:
        raise ModelFileError(
            f"checkpoint {path} belongs to a run with other settings or data; "
            "resume with the same parameters and data, or delete it to start afresh")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
    opt_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": header["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.batches"])
    return TrainState(**header["state"]), best
