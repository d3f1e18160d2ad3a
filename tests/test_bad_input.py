"""Every bad input named in the issue: one clear, documented exception, nothing half-written."""

import json

import numpy as np
import pytest

import aekit
from conftest import fast


@pytest.fixture
def fitted(vectors):
    return aekit.VAE(**fast()).fit(vectors)


@pytest.mark.parametrize("bad, match", [
    (np.full((10, 3), np.nan), "NaN"),
    (np.full((10, 3), np.inf), "infinity"),
    (np.empty((0, 3)), "0 sample"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert"),
    (np.zeros(5), "2D array"),
    (np.zeros((2, 2, 2, 2, 2)), "5 dimensions"),
])
def test_bad_training_data(bad, match):
    with pytest.raises(aekit.InvalidInputError, match=match):
        aekit.AutoEncoder(**fast()).fit(bad)


@pytest.mark.parametrize("latent_dim", [0, -3, 2.5, "4", True])
def test_bad_latent_dim(latent_dim, vectors):
    with pytest.raises(aekit.InvalidInputError, match=r"latent_dim=.* is not valid; latent_dim must be an"):
        aekit.VAE(latent_dim=latent_dim, **fast()).fit(vectors)


@pytest.mark.parametrize("params, match", [
    ({"likelihood": "poisson"}, "likelihood must be one of"),
    ({"network": "transformer"}, "network must be one of"),
    ({"epochs": 0}, "epochs must be one of 'auto' or an integer in \\[1, inf\\]"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"scaler": "x"}, "scaler must be one of"),
    ({"patience": 2.5}, "patience must be None or an integer"),
    ({"hidden_dims": (64, 0)}, "hidden_dims must be None or a tuple"),
    ({"verbose": "loud"}, "verbose must be"),
    ({"likelihood": "bernoulli", "scaler": "standard"}, "scaled to \\[0, 1\\]"),
])
def test_bad_parameters_name_the_parameter(params, match, vectors):
    with pytest.raises(aekit.InvalidInputError, match=match):
        aekit.AutoEncoder(**fast(**params)).fit(vectors)


def test_wrong_shape_at_transform_time(fitted, images):
    with pytest.raises(aekit.InvalidInputError, match="expecting 6 features"):
        fitted.transform(np.zeros((3, 5)))
    with pytest.raises(aekit.InvalidInputError, match="fitted on samples of shape \\(6,\\)"):
        fitted.transform(images[0])
    with pytest.raises(aekit.InvalidInputError, match="NaN"):
        fitted.score_samples(np.full((2, 6), np.nan))
    with pytest.raises(aekit.InvalidInputError, match="latent_dim"):
        fitted.inverse_transform(np.zeros((2, 7)))


def test_conditional_vae_without_labels(vectors):
    with pytest.raises(aekit.InvalidInputError, match="requires y"):
        aekit.ConditionalVAE(**fast()).fit(vectors)


def test_training_divergence_names_epoch_step_and_terms(vectors):
    with pytest.raises(aekit.TrainingDivergedError, match=r"epoch 1, step \d+ \(reconstruction NLL .*KL"):
        aekit.VAE(**fast(learning_rate=1e30, scaler="none")).fit(vectors * 1e30)


def test_a_divergence_in_a_later_pass_of_an_epoch_reports_its_own_batch():
    """A small table's epoch makes several passes: the step that diverged is found in the
    epoch's list, and its terms are divided by the rows of that step's batch in its pass."""
    import torch

    from aekit._distributed import SINGLE
    from aekit.training.checks import StepLosses
    from aekit.training.fused import StepResult

    losses = StepLosses(SINGLE, batch_size=4, n_train=6)  # passes of 2 steps: 4 rows, then 2
    losses.start_epoch()
    for loss in (1.0, 2.0, 3.0):
        losses.add(StepResult(torch.tensor(loss), torch.ones(4), torch.zeros(4)))
    losses.add(StepResult(torch.tensor(float("nan")), torch.full((2,), 3.0), torch.full((2,), 5.0)))
    with pytest.raises(aekit.TrainingDivergedError, match=r"epoch 2, step 4 \(reconstruction NLL 3, KL 5\)"):
        losses.check(epoch=1)


def _saved(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    return tmp_path / "m"


def test_missing_model_folder(tmp_path):
    with pytest.raises(aekit.ModelFileError, match="config.json is missing"):
        aekit.load(tmp_path / "nowhere")


def test_truncated_weights(fitted, tmp_path):
    folder = _saved(fitted, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(aekit.ModelFileError, match="truncated or edited"):
        aekit.load(folder)


def test_missing_weights(fitted, tmp_path):
    folder = _saved(fitted, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(aekit.ModelFileError, match="missing"):
        aekit.load(folder)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["fitted"]["model"].update(latent_dim=5), "its config needs F32 \\(128, 5\\)"),
    (lambda c: c.update(estimator="os.system"), "cannot be loaded"),
    (lambda c: c.pop("fitted"), "is not the config aekit writes"),
    (lambda c: c.update(fitted=[1, 2]), "is not the config aekit writes"),
    (lambda c: c["fitted"].update(model="mlp"), "is not the config aekit writes"),
    (lambda c: c.update(params="x"), "is not the config aekit writes"),
    (lambda c: c["fitted"]["preprocessing"].update(shape=[3]), "cannot be loaded"),
    (lambda c: c["params"].update(latent_dim="8"), "cannot be loaded"),
])
def test_edited_config_with_a_recomputed_checksum_is_still_checked(fitted, tmp_path, edit, match):
    """Someone who edits config.json and recomputes its checksum gets a clear error, not a crash:
    the checksum is not what keeps loading safe."""
    from aekit._jsonio import digest

    folder = _saved(fitted, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(aekit.ModelFileError, match=match):
        aekit.load(folder)


def test_other_format_version(fitted, tmp_path):
    folder = _saved(fitted, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(aekit.ModelFileError, match="format version 99"):
        aekit.load(folder)


@pytest.mark.parametrize("network", ["mlp", "conv"])
def test_version_2_folders_load_unless_their_conv_network_changed_since(tmp_path, network):
    from aekit._jsonio import digest

    X = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    folder = tmp_path / "m"
    aekit.AutoEncoder(latent_dim=2, network=network, **fast(epochs=1)).fit(X).save(folder)
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 2  # as an aekit before the lean conv network wrote it
    config["content_sha256"] = digest({k: v for k, v in config.items() if k != "content_sha256"})
    (folder / "config.json").write_text(json.dumps(config))
    if network == "mlp":
        assert aekit.load(folder).transform(X).shape == (20, 2)
    else:
        with pytest.raises(aekit.ModelFileError, match="convolutional network of an earlier aekit"):
            aekit.load(folder)


def test_config_that_is_not_json(fitted, tmp_path):
    folder = _saved(fitted, tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(aekit.ModelFileError, match="not valid JSON"):
        aekit.load(folder)


def test_a_failed_save_leaves_the_previous_model(fitted, tmp_path, monkeypatch):
    folder = _saved(fitted, tmp_path)
    before = (folder / "model.safetensors").read_bytes()
    import aekit.persistence as persistence

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence, "save_file", broken)
    with pytest.raises(aekit.OutputError, match="disk full"):
        fitted.save(folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left behind
