"""Your own encoder and decoder, saved as what builds them, never as pickled code.

``CustomNetwork(encoder, decoder, **options)`` names two factories by import path
(``"package.module:function"``, or the functions themselves, whose paths aekit records):

- ``encoder(sample_shape=(C, H, W) or (features,), **options)`` returns a ``torch.nn.Module``
  mapping a batch ``(n, *sample_shape)`` to features ``(n, m)``;
- ``decoder(sample_shape=..., in_features=..., n_params=..., **options)`` returns a module
  mapping codes ``(n, in_features)`` (the latent code, plus a one-hot class for conditional
  models) to the likelihood's parameters, ``(n, *sample_shape)`` when ``n_params`` is 1, else
  ``(n, *sample_shape, n_params)`` (a mean and a log-variance per value).

aekit checks both shapes on a dry run when it builds them. A saved model's ``config.json``
records the two paths and the options (JSON values only); the weights stay in safetensors.
``aekit.load`` imports the factories' module only when the caller passes ``trust_code=True``:
importing a module runs its code, so a model folder from elsewhere is code from elsewhere.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True, init=False)
class CustomNetwork:
    """Factories of an encoder and a decoder, by import path, with their keyword options."""

    encoder: str
    decoder: str
    options: dict = field(default_factory=dict)

    def __init__(self, encoder, decoder, **options):
        object.__setattr__(self, "encoder", import_path(encoder, "encoder"))
        object.__setattr__(self, "decoder", import_path(decoder, "decoder"))
        try:
            same = json.loads(json.dumps(options)) == options
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(f"the options of a custom network must be JSON values (numbers, strings, "
                             f"lists, dicts), as config.json stores them; got {options!r}")
        object.__setattr__(self, "options", dict(options))

    @classmethod
    def from_dict(cls, d: dict) -> CustomNetwork:
        if set(d) != {"encoder", "decoder", "options"} or not isinstance(d["options"], dict):
            raise ValueError(f"a custom network is {{encoder, decoder, options}}, got {sorted(d)}")
        return cls(d["encoder"], d["decoder"], **d["options"])

    def to_dict(self) -> dict:
        return {"encoder": self.encoder, "decoder": self.decoder, "options": dict(self.options)}

    @property
    def modules(self) -> list[str]:
        """The modules its factories live in (what loading it imports)."""
        return sorted({self.encoder.split(":")[0], self.decoder.split(":")[0]})

    def build(self, sample_shape: tuple[int, ...], decoder_in: int, n_params: int):
        """(encoder, decoder), their shapes checked on a dry run."""
        encoder = _call(self.encoder, sample_shape=tuple(sample_shape), **self.options)
        with torch.no_grad():
            features = encoder(torch.zeros(2, *sample_shape))
        if features.ndim != 2 or features.shape[0] != 2:
            raise ValueError(f"the encoder {self.encoder} must map (n, *{tuple(sample_shape)}) to "
                             f"(n, features), but it returned {tuple(features.shape)} for n = 2")
        encoder.out_features = int(features.shape[1])
        decoder = _call(self.decoder, sample_shape=tuple(sample_shape), in_features=decoder_in,
                        n_params=n_params, **self.options)
        expected = (2, *sample_shape) + ((n_params,) if n_params > 1 else ())
        with torch.no_grad():
            out = decoder(torch.zeros(2, decoder_in))
        if tuple(out.shape) != expected:
            raise ValueError(f"the decoder {self.decoder} must map (n, {decoder_in}) to (n, "
                             f"{', '.join(map(str, expected[1:]))}), but it returned {tuple(out.shape)} "
                             "for n = 2")
        return encoder, _AnyLeadingShape(decoder, len(expected) - 1)


class _AnyLeadingShape(nn.Module):
    """The user's decoder takes (n, in_features); aekit also decodes (k, n, in_features)."""

    def __init__(self, decoder: nn.Module, sample_dims: int):
        super().__init__()
        self.decoder, self.sample_dims = decoder, sample_dims

    def forward(self, z):
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], *out.shape[1:])


def import_path(factory, what: str) -> str:
    """``"module:qualified.name"`` of a factory given as that string or as the object."""
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        if not module or not name:
            raise ValueError(f"the {what} factory must be 'package.module:function', got {factory!r}")
        return factory
    module, name = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
    if not callable(factory) or not module or "<" in name:
        raise ValueError(f"the {what} factory must be a module-level function or class (aekit saves "
                         f"its import path, not its code), got {factory!r}")
    return f"{module}:{name}"


def _call(path: str, **kwargs) -> nn.Module:
    module_name, _, name = path.partition(":")
    target = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    made = target(**kwargs)
    if not isinstance(made, nn.Module):
        raise ValueError(f"{path} returned {type(made).__name__}, not a torch.nn.Module")
    return made


def is_saveable(network: CustomNetwork) -> str | None:
    """Why a model with this network could not be loaded again, or None."""
    if "__main__" in network.modules:
        return ("its network factories are defined in the script being run (__main__), which another "
                "process cannot import; move them into a module")
    return None
