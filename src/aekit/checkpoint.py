"""Training checkpoints as safetensors: weights, optimiser moments, RNG states, history.

``torch.save`` would pickle; a checkpoint is a file a user may hand back to us (``--resume``),
so everything is stored as named tensors plus a JSON header, and loading runs no code. The
header holds a SHA-256 of every tensor, and every field is checked against the run being
resumed (names, shapes, dtypes, epoch counts) before anything is restored: a damaged or
foreign checkpoint is refused with one message, never resumed into other weights.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ._atomic import atomic_path, safetensors_os_error
from ._jsonio import parse_object
from .errors import ModelFileError

FORMAT, FORMAT_VERSION = "aekit-checkpoint", 2
_ADAM_SLOTS = ("step", "exp_avg", "exp_avg_sq")


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


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save(path: Path, fingerprint: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         generator: torch.Generator, state: TrainState, best_weights: dict | None) -> None:
    # Everything on the CPU: a checkpoint is device-free, and resumes on any device.
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if best_weights is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in best_weights.items()})
    for index, slots in optimizer.state_dict()["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.batches"] = generator.get_state()
    device = next(model.parameters()).device
    if device.type == "cuda":  # corruption and reparameterisation noise drawn on the GPU
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fingerprint": fingerprint,
              "state": asdict(state), "tensors_sha256": tensor_digest(tensors)}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={"aekit": json.dumps(header)})
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise safetensors_os_error(exc) from exc


def non_finite_tensor(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or an infinity, or None."""
    return next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()),
                None)


class _Damaged(Exception):
    """One thing wrong with a checkpoint; reported as a ModelFileError naming the file."""


def load(path: Path, fingerprint: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         generator: torch.Generator, epochs: int, steps_per_epoch: int) -> tuple[TrainState, dict | None]:
    """Restore a run in place; returns its state and the best weights seen so far.

    Nothing is restored unless the whole checkpoint checks out.
    """
    try:
        header, tensors = _read(path)
        if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
            raise _Damaged(f"not an aekit checkpoint of format {FORMAT_VERSION} "
                           f"({header.get('format')!r}, version {header.get('format_version')!r})")
        if header.get("fingerprint") != fingerprint:
            raise ModelFileError(
                f"checkpoint {path} belongs to a run with other settings or data; resume with the "
                "same parameters and the same data, or delete it to start afresh")
        if header.get("tensors_sha256") != tensor_digest(tensors):
            raise _Damaged("its tensors do not match the checksum in its header")
        state = _state(header.get("state"), epochs, steps_per_epoch)
        model_state, best, optim = _split(tensors, model, optimizer, generator, state)
    except _Damaged as exc:
        raise ModelFileError(f"checkpoint {path} is damaged: {exc}. Delete it to start afresh "
                             "(the run's model/ folder is not affected)") from None
    model.load_state_dict(model_state)
    optimizer.load_state_dict({"state": optim, "param_groups": optimizer.state_dict()["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.batches"])
    device = next(model.parameters()).device
    if device.type == "cuda" and "rng.cuda" in tensors:  # a GPU run resumed on a GPU: exactly
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    return state, best


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            header = parse_object((f.metadata() or {}).get("aekit", ""), f"the header of {path}",
                                  error=_Damaged)
            return header, {key: f.get_tensor(key) for key in f.keys()}
    except (OSError, SafetensorError) as exc:
        raise _Damaged(f"unreadable ({exc})") from exc


def _state(raw, epochs: int, steps_per_epoch: int) -> TrainState:
    names = {f.name for f in fields(TrainState)}
    if not isinstance(raw, dict) or set(raw) != names:
        raise _Damaged(f"its training state must have exactly the fields {sorted(names)}")
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    state = TrainState(**raw)
    if not (is_int(state.epoch) and 1 <= state.epoch <= epochs):
        raise _Damaged(f"epoch {state.epoch!r} is not between 1 and this run's {epochs} epochs")
    if not (is_int(state.global_step) and state.global_step == state.epoch * steps_per_epoch):
        raise _Damaged(f"step {state.global_step!r} does not match {state.epoch} epochs of "
                       f"{steps_per_epoch} steps")
    history = state.history
    if not (isinstance(history, dict) and set(history) == {"train_loss", "val_loss", "lr"}):
        raise _Damaged("its history must hold train_loss, val_loss and lr")
    for key, series in history.items():
        if not (isinstance(series, list) and all(isinstance(v, float) and math.isfinite(v) for v in series)):
            raise _Damaged(f"history[{key!r}] must be a list of finite numbers")
    if len(history["train_loss"]) != state.epoch or len(history["lr"]) != state.epoch \
            or len(history["val_loss"]) not in (0, state.epoch):
        raise _Damaged(f"its history does not have one entry per epoch ({state.epoch})")
    best = state.best_val
    if not (isinstance(best, float) and (math.isfinite(best) or best == math.inf)):
        raise _Damaged(f"best validation loss {state.best_val!r} is not a number")
    if not (is_int(state.bad_epochs) and 0 <= state.bad_epochs <= state.epoch):
        raise _Damaged(f"bad_epochs {state.bad_epochs!r} is out of range")
    if not isinstance(state.stopped_early, bool) or state.precision not in ("fp32", "bf16"):
        raise _Damaged("stopped_early must be true or false and precision fp32 or bf16")
    return state


def _expect(tensors: dict, key: str, like: torch.Tensor) -> torch.Tensor:
    if key not in tensors:
        raise _Damaged(f"tensor {key!r} is missing")
    t = tensors[key]
    if t.shape != like.shape or t.dtype != like.dtype:
        raise _Damaged(f"tensor {key!r} is {t.dtype} {tuple(t.shape)}, this run needs "
                       f"{like.dtype} {tuple(like.shape)}")
    return t


def _split(tensors: dict, model, optimizer, generator, state: TrainState):
    own = model.state_dict()
    model_state = {k: _expect(tensors, f"model.{k}", v) for k, v in own.items()}
    has_best = any(key.startswith("best.") for key in tensors)
    best = {k: _expect(tensors, f"best.{k}", v) for k, v in own.items()} if has_best else None
    if has_best != (len(state.history["val_loss"]) > 0):
        raise _Damaged("its best weights and its validation history disagree")
    optim: dict[int, dict] = {}
    for index, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        slots = {"step": torch.zeros((), dtype=torch.float32), "exp_avg": param.detach(),
                 "exp_avg_sq": param.detach()}
        optim[index] = {name: _expect(tensors, f"optim.{index}.{name}", like)
                        for name, like in slots.items()}
    broken = non_finite_tensor({key: t for key, t in tensors.items() if key.startswith(("model.", "best."))})
    if broken is not None:
        raise _Damaged(f"the weights {broken!r} hold NaN or infinite values")
    for key, like in (("rng.torch", torch.get_rng_state()), ("rng.batches", generator.get_state())):
        _expect(tensors, key, like)
        try:  # a generator refuses a state that is not one; find out before restoring anything
            torch.Generator().set_state(tensors[key])
        except RuntimeError as exc:
            raise _Damaged(f"tensor {key!r} is not a random generator's state ({exc})") from None
    cuda_state = tensors.get("rng.cuda")
    if cuda_state is not None and (cuda_state.dtype != torch.uint8 or cuda_state.dim() != 1):
        raise _Damaged("tensor 'rng.cuda' is not a generator state")
    expected = {f"model.{k}" for k in own} | {f"best.{k}" for k in own if has_best} | \
        {f"optim.{i}.{name}" for i in optim for name in _ADAM_SLOTS} | \
        {"rng.torch", "rng.batches", "rng.cuda"}
    unexpected = sorted(set(tensors) - expected)
    if unexpected:
        raise _Damaged(f"it holds tensors this run does not have: {unexpected[:5]}")
    return model_state, best, optim
