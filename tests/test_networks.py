"""The network families on every shape they claim, and the training budget that adapts to data."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import aekit
from aekit import training as train
from aekit.cli import main
from aekit.model import AutoencoderNet, ModelConfig
from aekit.nn.networks import make_networks
from aekit.nn.residual import ResidualBlock
from conftest import fast

IMAGE_SHAPES = [(8, 8), (28, 28), (3, 32, 32), (3, 64, 64)]


@pytest.mark.parametrize("network", ["conv", "resnet"])
@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_image_networks_train_and_rebuild_their_shape(network, shape):
    X = np.random.default_rng(0).integers(0, 256, size=(12, *shape), dtype=np.uint8)
    ae = aekit.AutoEncoder(latent_dim=3, network=network, **fast(epochs=1, batch_size=6)).fit(X)
    assert ae.model_.config.network == network
    assert ae.reconstruct(X[:5]).shape == (5, *shape)
    assert ae.transform(X[:5]).shape == (5, 3)


@pytest.mark.parametrize("shape", [(40,), (5, 40), (5, 33)], ids=["1-channel", "5-channels", "odd-length"])
@pytest.mark.parametrize("likelihood", ["gaussian", "gaussian_learned"])
def test_temporal_network_on_windows_of_one_and_several_channels(shape, likelihood):
    X = np.random.default_rng(0).normal(size=(16, *shape)).astype(np.float32)
    vae = aekit.VAE(latent_dim=2, network="temporal", likelihood=likelihood, **fast(epochs=1)).fit(X)
    assert vae.reconstruct(X[:4]).shape == (4, *shape)
    assert np.isfinite(vae.score_samples(X[:4])).all()
    # Windows are not images: each (channel, step) is standardised like a table's column.
    assert not vae.is_image_ and vae.scaler_.method == "standard"


def test_temporal_networks_convolve_over_time_not_over_channels():
    encoder, _ = make_networks("temporal", (5, 40), (16,), "silu", decoder_in=2, n_params=1)
    first = encoder.stages[0]
    assert isinstance(first, torch.nn.Conv1d) and first.in_channels == 5


@pytest.mark.parametrize("kind,shape", [("resnet", (3, 13, 21)), ("temporal", (3, 13))])
@pytest.mark.parametrize("n_params", [1, 2])
def test_residual_decoders_restore_odd_sizes(kind, shape, n_params):
    encoder, decoder = make_networks(kind, shape, (32,), "silu", decoder_in=4, n_params=n_params)
    assert encoder(torch.zeros(5, *shape)).shape == (5, 32)
    assert decoder(torch.zeros(3, 5, 4)).shape == (3, 5, *shape) + ((n_params,) if n_params > 1 else ())


def test_residual_blocks_start_as_the_identity():
    block = ResidualBlock(2, 16, "silu")
    x = torch.randn(2, 16, 7, 7)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("network", ["resnet", "temporal"])
def test_codes_of_a_sample_do_not_depend_on_its_batch(network):
    # GroupNorm, not BatchNorm: scores and codes are per input.
    shape = (1, 16, 16) if network == "resnet" else (2, 24)
    torch.manual_seed(0)
    net = AutoencoderNet(ModelConfig(sample_shape=shape, latent_dim=3, network=network)).eval()
    x = torch.randn(6, *shape)
    with torch.inference_mode():
        alone = net.encode(x[:1], sample=False).mean
        together = net.encode(x, sample=False).mean[:1]
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("network", ["resnet", "temporal"])
def test_residual_models_round_trip_through_a_model_folder(tmp_path, network):
    shape = (12, 1, 16, 16) if network == "resnet" else (12, 3, 20)
    X = np.random.default_rng(1).random(shape).astype(np.float32)
    ae = aekit.AutoEncoder(latent_dim=2, network=network, **fast(epochs=1)).fit(X)
    ae.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))


def test_small_data_train_more_passes_grouped_into_the_same_epochs():
    config = train.TrainConfig(epochs=50, min_steps=4000, patience=10, group_passes=True)
    assert train.plan(config, 80) == train.Plan(epochs=50, passes=1, patience=10)  # 4,000 steps already
    assert train.plan(config, 4) == train.Plan(epochs=50, passes=20, patience=10)  # 1,000 passes
    # 167 passes: 56 epochs of 3 (one pass more than needed), patience for the same share.
    assert train.plan(config, 24) == train.Plan(epochs=56, passes=3, patience=12)
    # 77 passes do not group: the epochs stretch, and patience with them.
    assert train.plan(config, 52) == train.Plan(epochs=77, passes=1, patience=16)
    # Images and windows validate every pass: their epochs stretch.
    assert train.plan(replace(config, group_passes=False), 4) == train.Plan(1000, 1, 200)
    assert train.plan(train.TrainConfig(epochs=3, min_steps=0, patience=None), 1) == train.Plan(3, 1, None)
    # Fine-tuning validates after every pass, as it always has, to keep the best.
    fine_tuning = train.TrainConfig(epochs=1, min_steps=40, group_passes=False)
    assert train.plan(fine_tuning, 4) == train.Plan(10, 1, 100)


def test_auto_epochs_train_small_data_longer_and_explicit_epochs_exactly(monkeypatch):
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    common = {"latent_dim": 2, "batch_size": 16, "patience": None, "verbose": 0, "random_state": 0}
    assert aekit.AutoEncoder(epochs=7, **common).fit(X).n_iter_ == 7
    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS_VECTORS", 400)  # 54 training rows: 4 steps a pass
    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS", 480)  # images (and windows) have their own minimum
    steps = []
    monkeypatch.setattr(train.loop, "learning_rate", lambda config, step, total: steps.append(step) or 1e-3)
    auto = aekit.AutoEncoder(**common).fit(X)  # 100 passes: 50 epochs of 2
    assert auto.n_iter_ == 50 and len(auto.history_["train_loss"]) == len(auto.history_["val_loss"]) == 50
    assert steps == list(range(400))
    images = np.random.default_rng(0).random((60, 1, 8, 8)).astype(np.float32)
    assert aekit.AutoEncoder(**common).fit(images).n_iter_ == 120  # 120 passes, each an epoch


def test_a_temporal_networks_windows_train_as_long_flat_or_as_sequences(monkeypatch, tmp_path):
    """One rule for windows however they are shaped: a one-column CSV's windows load flat, the
    benchmark's come as (1, time) sequences; both train a temporal network the same steps, and
    the CLI trains the weights the Python API trains on the same windows."""
    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS_VECTORS", 60)  # 2 steps an epoch: 50 epochs
    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS", 120)  # 60 epochs
    values = np.sin(np.arange(80) / 5).astype(np.float32)
    flat = np.lib.stride_tricks.sliding_window_view(values, 16).copy()
    common = {"latent_dim": 2, "batch_size": 32, "patience": None, "verbose": 0, "random_state": 0}
    temporal = {**common, "network": "temporal"}
    steps = lambda model: model.n_iter_ * -(-int(len(flat) * 0.9) // 32)
    assert steps(aekit.AutoEncoder(**temporal).fit(flat)) >= 120
    assert steps(aekit.AutoEncoder(**temporal).fit(flat[:, None, :])) >= 120
    mlp = aekit.AutoEncoder(network="mlp", **common).fit(flat)
    assert mlp.n_iter_ < aekit.AutoEncoder(**temporal).fit(flat).n_iter_  # flat vectors for an MLP: fewer
    pd.DataFrame({"timestamp": np.arange(80), "value": values}).to_csv(tmp_path / "one.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "one.csv"), "--window", "16", "--stride", "1",
                 "--model", "ae", "--latent-dim", "2", "--batch-size", "32", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    cli = aekit.load(tmp_path / "run" / "model")
    api = aekit.AutoEncoder(latent_dim=2, batch_size=32, network="temporal", verbose=0, random_state=0)
    api.fit(flat)
    assert cli.n_iter_ == api.n_iter_
    for name, value in api.model_.state_dict().items():
        assert np.array_equal(value.numpy(), cli.model_.state_dict()[name].numpy()), name


def test_train_verb_picks_temporal_networks_for_windows_of_several_columns(tmp_path):
    t = np.arange(600)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=600, freq="min")})
    for c in range(5):
        frame[f"sensor{c}"] = np.sin(t / (10 + c)) + 0.05 * rng.normal(size=600)
    frame.to_csv(tmp_path / "m.csv", index=False)
    window = ["--window", "24", "--stride", "6"]
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "m.csv"), *window, "--model", "ae", "--latent-dim", "3",
                 "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "model" / "config.json").read_text())
    model = aekit.load(run / "model")
    assert model.model_.config.network == "temporal" and model.input_shape_ == (5, 24), config["params"]
    out = tmp_path / "detect"
    assert main(["detect", "--model", str(run), "--data", str(tmp_path / "m.csv"), *window,
                 "--out", str(out)]) == 0
    assert json.loads((out / "detect.json").read_text())["n"] == (600 - 24) // 6 + 1


def test_auto_activation_is_silu_for_the_conv_network_and_relu_elsewhere(images, vectors):
    X, _ = images
    cases = [(aekit.AutoEncoder(**fast()), X, "silu", nn.SiLU),  # "auto" network: conv for images
             (aekit.AutoEncoder(network="mlp", **fast()), X, "relu", nn.ReLU),
             (aekit.VAE(**fast()), vectors, "relu", nn.ReLU),
             (aekit.AutoEncoder(activation="gelu", **fast()), X, "gelu", nn.GELU)]
    for model, data, name, layer in cases:
        model.fit(data)
        assert model.get_params()["activation"] == model.activation  # the parameter is untouched
        assert model.model_.config.activation == name
        kinds = {type(m) for part in (model.model_.encoder, model.model_.decoder) for m in part.modules()}
        assert layer in kinds and not ({nn.ReLU, nn.SiLU, nn.GELU} - {layer}) & kinds


def test_default_hidden_dims_depend_on_the_network_and_an_explicit_choice_wins(images, vectors):
    X, _ = images
    cases = [(aekit.AutoEncoder(**fast()), X, (512,)),  # conv for images
             (aekit.AutoEncoder(network="resnet", **fast()), X, (256,)),
             (aekit.AutoEncoder(network="mlp", **fast()), X, (256, 128)),
             (aekit.VAE(**fast()), vectors, (256, 128)),
             (aekit.AutoEncoder(hidden_dims=(64,), **fast()), X, (64,))]
    for model, data, widths in cases:
        model.fit(data)
        assert model.model_.config.hidden_dims == widths
        dense = [m for m in model.model_.encoder.modules() if isinstance(m, nn.Linear)]
        assert [m.out_features for m in dense] == list(widths)
