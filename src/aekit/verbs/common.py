"""What the verbs share: finding the model, reading data as the model reads it, and writing
outputs.

``train`` writes a run folder (``runs.RunFolder``). Every other verb writes its folder ``out``
through ``runs.staged_output`` (:func:`writes_folder`): all files go to a temporary folder that
replaces ``out`` once the verb's summary ``<verb>.json`` is written, so a folder with that
summary is complete and a failed verb leaves the previous outputs as they were. Each summary
records the checksum of the model it used, so ``report`` can tell outputs of an earlier model
from current ones.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from .. import plots
from .._atomic import atomic_path, write_text
from ..data import Dataset
from ..data import load as load_data
from ..data.layout import as_model_reads
from ..errors import ModelFileError
from ..persistence import load as load_model_folder
from ..persistence import model_digest
from ..runs import RunFolder, staged_output
from ..tasks import factors, latent


def model_folder(path) -> Path:
    """A model folder, or the ``model/`` of a run folder."""
    run = RunFolder.holding_model(path)
    folder = run.model if run else Path(path)
    if not (folder / "config.json").is_file():
        raise ModelFileError(f"{path} holds no model: give a run folder or a model folder")
    return folder


def load_model(path, device=None, trust_code: bool = False):
    """The model of a model or run folder, set to run on ``device`` (None: its own setting);
    ``trust_code``: import the code of a model's own networks (``aekit.load``)."""
    estimator = load_model_folder(model_folder(path), trust_code=trust_code)
    return estimator if device is None else estimator.set_params(device=device)


def trained_on(model) -> tuple[str | None, dict]:
    """The source and data options a run folder was trained on; (None, {}) for a model folder."""
    run = RunFolder.holding_model(model)
    return (None, {}) if run is None else run.trained_on()


def data_for(estimator, source, data_options=None) -> Dataset:
    """``source`` loaded and laid out as ``estimator`` reads it (its columns by name, windows as
    sequences if so); rows read on demand stay so: every verb reads them in batches."""
    data = load_data(source, **(data_options or {}))
    return as_model_reads(data, getattr(estimator, "feature_names_in_", None),
                          tuple(getattr(estimator, "input_shape_", ())))


def latent_names(estimator, model_path) -> list[str | None]:
    """A name per code dimension: the attribute a run's model was trained to carry, or the factor
    ``aekit evaluate`` found it carries (in the run's ``evaluate/``, for this model); else None."""
    run = RunFolder.holding_model(model_path)
    evaluation = run.factor_evaluation(model_digest(run.model)) if run else None
    return factors.latent_names(estimator, evaluation)


def latent_labels(estimator, model_path) -> list[str]:
    """"z3: scale" per code dimension (see :func:`latent_names`), "z3" where it has no name."""
    return [factors.dimension_label(j, name) for j, name in enumerate(latent_names(estimator, model_path))]


def load_with_data(model_path, source, data_options, device=None, trust_code: bool = False):
    """The model and the data, as :func:`data_for` lays them out."""
    estimator = load_model(model_path, device, trust_code)
    return estimator, data_for(estimator, source, data_options)


def writes_folder(verb):
    """Run the verb with ``out`` replaced by a staging folder that becomes ``out`` at the end."""
    @functools.wraps(verb)
    def wrapper(*, out, **kwargs):
        with staged_output(out) as tmp:
            summary = verb(out=tmp, **kwargs)
        return Path(out) / summary.name
    return wrapper


def write_summary(out: Path, name: str, payload: dict, model_path=None) -> Path:
    if model_path is not None:
        payload = {**payload, "model_sha256": model_digest(model_folder(model_path))}
    path = out / name
    write_text(path, json.dumps(payload, indent=2, default=json_default))
    return path


def json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def save_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def latent_map(codes, labels, path, title, method="pca") -> dict:
    """Draw the latent map where the codes allow one; say what was drawn, or why not."""
    if len(codes) < 2:
        return {"skipped": {path.name: f"a latent map needs at least 2 codes, got {len(codes)}"}}
    latent.check_finite_codes(codes, "inputs on the latent map")
    projection = plots.latent_map(codes, labels, path, title=title, method=method)
    return {"figures": [path.name], "projection": projection}


def merge(summary: dict, part: dict) -> None:
    summary.setdefault("figures", []).extend(part.get("figures", []))
    if part.get("skipped"):
        summary.setdefault("figures_skipped", {}).update(part["skipped"])
    if "projection" in part:
        summary["projection"] = part["projection"]
