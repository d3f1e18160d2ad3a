"""One device for everything: training, inference, files that are device-free. GPU tests skip
cleanly on a machine without one (docs/gpus.md)."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit import training as train
from aekit.cli import main
from aekit.data.in_memory import ArrayRows
from aekit.model import AutoencoderNet, ModelConfig
from conftest import fast

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
cpu_only = pytest.mark.skipif(torch.cuda.is_available() or torch.backends.mps.is_available(),
                              reason="'auto' is the CPU only on a machine without accelerators")


@cpu_only
def test_cpu_and_auto_train_the_same_weights_on_a_cpu_machine(tmp_path, images):
    X, y = images
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    for device in ("cpu", "auto"):
        assert main(["train", "--data", str(tmp_path / "bars.npz"), "--epochs", "3", "--latent-dim", "2",
                     "--device", device, "--out", str(tmp_path / device), "--quiet"]) == 0
    weights = [load_file(str(tmp_path / d / "model" / "model.safetensors")) for d in ("cpu", "auto")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert json.loads((tmp_path / "auto" / "metrics.json").read_text())["device"] == "cpu"


def test_an_unavailable_device_is_one_line(tmp_path, capsys):
    code = main(["train", "--device", f"cuda:{torch.cuda.device_count() + 3}", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is not available" in err[0]
    assert not (tmp_path / "r").exists()
    with pytest.raises(aekit.InvalidInputError, match="not a torch device"):
        aekit.AutoEncoder(device="tpu:0", **fast()).fit(np.ones((10, 2)))


def test_divergence_is_reported_at_its_first_step_although_the_host_checks_later():
    """The loop reads losses on the host only every CHECK_EVERY steps; the error must still name
    the step where the loss first stopped being finite."""
    n, seed, poisoned_step = 80, 3, 37  # 37: neither 1 nor a multiple of CHECK_EVERY
    assert poisoned_step % train.CHECK_EVERY and train.CHECK_EVERY < poisoned_step
    generator = torch.Generator().manual_seed(seed)  # replays the loop's split and first order
    train_idx, _ = train.loop._split(n, 0.0, generator)
    order = train_idx[torch.randperm(n, generator=generator)]
    X = torch.rand(n, 4)
    X[order[poisoned_step - 1]] = 7777.0  # the one row the preprocessing turns into NaN
    preprocess = lambda x: torch.where(x == 7777.0, torch.nan, x)
    model = AutoencoderNet(ModelConfig(sample_shape=(4,), latent_dim=2, hidden_dims=(8,)))
    config = train.TrainConfig(epochs=2, batch_size=1, validation_fraction=0.0, random_state=seed, verbose=0)
    expected = rf"at epoch 1, step {poisoned_step} \(reconstruction"
    with pytest.raises(aekit.TrainingDivergedError, match=expected):
        train.fit(model, ArrayRows(X.numpy()), None, preprocess, config)


def test_a_model_runs_where_its_device_says_and_records_where_it_was_fitted(tmp_path, vectors):
    vae = aekit.VAE(device="cpu", **fast()).fit(vectors)
    assert vae.device_ == "cpu"
    vae.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m").set_params(device="auto")
    assert loaded.device_ == "cpu" and np.array_equal(loaded.transform(vectors), vae.transform(vectors))
    assert json.loads((tmp_path / "m" / "config.json").read_text())["fitted"]["device"] == "cpu"


def test_the_detector_sets_the_models_device(vectors):
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(**fast()), device="cpu", random_state=0).fit(vectors)
    assert detector.model_.device == "cpu" and detector.model_.device_ == "cpu"


@needs_cuda
def test_training_on_a_gpu_matches_the_cpu_closely_and_saves_a_device_free_model(tmp_path, vectors):
    # An autoencoder without noise: a VAE's reparameterisation noise is drawn on the GPU, from
    # another random stream than the CPU's (docs/gpus.md), so its weights differ by design.
    params = fast(epochs=5, precision="fp32")
    gpu = aekit.AutoEncoder(device="cuda", **params).fit(vectors)
    cpu = aekit.AutoEncoder(device="cpu", **params).fit(vectors)
    assert gpu.device_.startswith("cuda")
    np.testing.assert_allclose(gpu.transform(vectors), cpu.transform(vectors), atol=1e-3)
    gpu.save(tmp_path / "m")
    on_cpu = aekit.load(tmp_path / "m").set_params(device="cpu")
    np.testing.assert_allclose(on_cpu.transform(vectors), gpu.transform(vectors), atol=1e-5)


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper", "mask", "greyscale"])
@pytest.mark.parametrize("mask_mode", ["pixels", "patches", "features"])
def test_every_corruption_draws_on_its_inputs_device(kind, mask_mode):
    """The meta device stands in for a GPU here: a mask or weight made on the CPU fails to mix
    with it, as it failed on an H100 (2026-11-22) for masked and greyscale inputs."""
    from aekit.nn.corruption import CorruptionConfig, corrupt

    x = torch.empty(2, 3, 8, 8, device="meta")
    assert corrupt(x, CorruptionConfig(kind=kind, level=0.3, mask_mode=mask_mode)).device == x.device


@needs_cuda
def test_a_gpu_checkpoint_resumes_on_the_cpu(tmp_path, vectors):
    path = tmp_path / "ckpt.safetensors"
    aekit.AutoEncoder(device="cuda", **fast(epochs=2)).fit(vectors, checkpoint_path=path)
    resumed = aekit.AutoEncoder(device="cpu", **fast(epochs=2))
    resumed.fit(vectors, checkpoint_path=path, resume=True)
    assert resumed.n_iter_ == 2 and resumed.device_ == "cpu"


def test_deterministic_training_is_the_same_on_the_cpu_and_leaves_torch_as_it_was(vectors):
    plain = aekit.VAE(latent_dim=2, device="cpu", **fast()).fit(vectors)
    strict = aekit.VAE(latent_dim=2, device="cpu", deterministic=True, **fast()).fit(vectors)
    for name, tensor in plain.model_.state_dict().items():
        assert torch.equal(tensor, strict.model_.state_dict()[name])
    assert not torch.are_deterministic_algorithms_enabled()


@needs_cuda
def test_deterministic_gpu_training_repeats_bit_for_bit(images):
    X, _ = images
    fits = [aekit.VAE(latent_dim=2, network="conv", device="cuda", deterministic=True, **fast()).fit(X)
            for _ in range(2)]
    for name, tensor in fits[0].model_.state_dict().items():
        assert torch.equal(tensor, fits[1].model_.state_dict()[name])


@pytest.mark.slow  # torch.compile takes ~30 s on a 2-core CPU
def test_a_compiled_fit_trains_the_plain_weights_and_saves_a_plain_model_folder(tmp_path, vectors):
    plain = aekit.VAE(latent_dim=2, device="cpu", **fast()).fit(vectors)
    compiled = aekit.VAE(latent_dim=2, device="cpu", compile=True, **fast()).fit(vectors)
    for name, tensor in plain.model_.state_dict().items():
        torch.testing.assert_close(compiled.model_.state_dict()[name], tensor, atol=1e-5, rtol=1e-5)
    compiled.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.transform(vectors), compiled.transform(vectors), atol=1e-5)


@needs_cuda
def test_data_too_large_for_the_gpu_trains_through_pinned_buffers_to_the_same_weights(images, monkeypatch):
    """Data left on the host (as when it does not fit on the GPU) goes through the pinned double
    buffer; the weights are those of resident data."""
    from aekit.data import feeding

    X, _ = images
    resident = aekit.VAE(latent_dim=2, device="cuda", deterministic=True, **fast()).fit(X)
    monkeypatch.setattr(feeding, "resident", lambda tensor, device: tensor)
    streamed = aekit.VAE(latent_dim=2, device="cuda", deterministic=True, **fast()).fit(X)
    for name, tensor in resident.model_.state_dict().items():
        assert torch.equal(tensor, streamed.model_.state_dict()[name])
