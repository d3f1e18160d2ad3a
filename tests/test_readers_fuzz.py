"""A bounded fuzz run of the readers of aekit's own files: a model folder's config.json and the
safetensors header, and a checkpoint's header. Whatever an edit makes of them (checksums
recomputed, so that only the checks behind them stand), reading them back either works or
raises aekit's own error: never another exception, which the CLI would report as exit 3.

Longer run (docs/files.md): AEKIT_FUZZ_EXAMPLES=2000 python -m pytest tests/test_readers_fuzz.py
"""

import copy
import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aekit
from aekit._jsonio import digest
from aekit.errors import AekitError

EXAMPLES = int(os.environ.get("AEKIT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
            | st.text(max_size=12) | st.sampled_from(["mlp", "conv", "gaussian", "F32", "", "nan"]))
_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                                          max_size=4),
                       max_leaves=12)


def _paths(value, here=()):
    """Every place in a JSON value: the paths of its keys and items."""
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*here, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*here, index))
    return found


def _edit(document, path, action, value):
    """``document`` with the place ``path`` replaced by ``value``, deleted, or emptied."""
    document = copy.deepcopy(document)
    if not path:
        return value if action == "replace" else document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent[last], dict | list):
        parent[last] = type(parent[last])()
    return document


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    folder = tmp_path_factory.mktemp("fuzz") / "model"
    aekit.VAE(latent_dim=2, epochs=1, verbose=0, random_state=0).fit(X).save(folder)
    config = json.loads((folder / "config.json").read_text())
    return folder, config, (folder / "model.safetensors").read_bytes()


def _write(folder, config, weights: bytes):
    from aekit.persistence import _sha256

    (folder / "model.safetensors").write_bytes(weights)
    if isinstance(config, dict):
        config = {**config, "weights_sha256": _sha256(folder / "model.safetensors")}
        config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    (folder / "config.json").write_text(json.dumps(config))


def _load_or_refuse(folder):
    try:
        aekit.load(folder)
    except AekitError:
        pass  # refused, with aekit's own error: what the CLI reports in one line, exit 2


@FUZZ
@given(data=st.data(), action=st.sampled_from(["replace", "delete", "empty"]), value=_values)
def test_an_edited_config_loads_or_is_refused_cleanly(saved, tmp_path_factory, data, action, value):
    folder, config, weights = saved
    path = data.draw(st.sampled_from(_paths(config)))
    target = tmp_path_factory.mktemp("edited")
    _write(target, _edit(config, path, action, value), weights)
    _load_or_refuse(target)


@FUZZ
@given(data=st.data(), action=st.sampled_from(["replace", "delete", "empty"]), value=_values)
def test_an_edited_safetensors_header_loads_or_is_refused_cleanly(saved, tmp_path_factory, data, action,
                                                                  value):
    folder, config, weights = saved
    size = struct.unpack("<Q", weights[:8])[0]
    header = json.loads(weights[8:8 + size])
    path = data.draw(st.sampled_from(_paths(header)))
    edited = json.dumps(_edit(header, path, action, value)).encode()
    target = tmp_path_factory.mktemp("edited")
    _write(target, config, struct.pack("<Q", len(edited)) + edited + weights[8 + size:])
    _load_or_refuse(target)


@FUZZ
@given(garbage=st.binary(max_size=64), at=st.integers(0, 10_000))
def test_damaged_weight_bytes_load_or_are_refused_cleanly(saved, tmp_path_factory, garbage, at):
    folder, config, weights = saved
    at = min(at, len(weights))
    target = tmp_path_factory.mktemp("damaged")
    _write(target, config, weights[:at] + garbage + weights[at + len(garbage):])
    _load_or_refuse(target)


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.safetensors"
    params = {"latent_dim": 2, "epochs": 2, "verbose": 0, "random_state": 0}
    aekit.AutoEncoder(**params).fit(X, checkpoint_path=path)
    return X, params, path.read_bytes()


@FUZZ
@given(data=st.data(), action=st.sampled_from(["replace", "delete", "empty"]), value=_values)
def test_an_edited_checkpoint_header_resumes_or_is_refused_cleanly(checkpointed, tmp_path_factory, data,
                                                                   action, value):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from aekit.checkpoint import tensor_digest

    X, params, original = checkpointed
    source = tmp_path_factory.mktemp("ckpt_src") / "checkpoint.safetensors"
    source.write_bytes(original)
    with safe_open(str(source), framework="pt") as f:
        header = json.loads(f.metadata()["aekit"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    path = data.draw(st.sampled_from(_paths(header)))
    edited = _edit(header, path, action, value)
    if isinstance(edited, dict) and "tensors_sha256" in edited:
        edited["tensors_sha256"] = tensor_digest(tensors)
    save_file(tensors, str(source), metadata={"aekit": json.dumps(edited)})
    try:
        aekit.AutoEncoder(**params).fit(X, checkpoint_path=source, resume=True)
    except AekitError:
        pass
