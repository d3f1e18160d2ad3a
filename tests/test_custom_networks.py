"""Your own encoder and decoder (aekit.CustomNetwork): trained, saved as import paths, and
loaded only when the caller trusts the code."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from conftest import fast

RESNET = aekit.CustomNetwork("custom_networks:small_resnet_encoder", "custom_networks:small_resnet_decoder",
                             width=4)


@pytest.mark.parametrize("make", [
    lambda net: aekit.AutoEncoder(latent_dim=2, network=net, **fast()),
    lambda net: aekit.VAE(latent_dim=2, network=net, likelihood="gaussian_learned", **fast()),
    lambda net: aekit.ConditionalVAE(latent_dim=2, network=net, **fast()),
])
def test_a_custom_network_trains_saves_and_loads_only_when_trusted(tmp_path, images, make):
    X, y = images
    labels = {"y": y} if make(RESNET).is_conditional else {}
    model = make(RESNET).fit(X, **labels)
    assert isinstance(model.model_.encoder[1], sys.modules["custom_networks"].Residual)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["fitted"]["model"]["network"] == {"encoder": "custom_networks:small_resnet_encoder",
                                                    "decoder": "custom_networks:small_resnet_decoder",
                                                    "options": {"width": 4}}
    with pytest.raises(aekit.UntrustedCodeError, match="custom_networks.*trust_code=True"):
        aekit.load(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m", trust_code=True)
    assert loaded.network == RESNET
    assert np.allclose(loaded.reconstruct(X, **labels), model.reconstruct(X, **labels))


def test_an_untrusted_model_imports_nothing(tmp_path, images):
    X, _ = images
    aekit.AutoEncoder(latent_dim=2, network=RESNET, **fast()).fit(X).save(tmp_path / "m")
    code = ("import sys, aekit\n"
            f"try: aekit.load({str(tmp_path / 'm')!r})\n"
            "except aekit.UntrustedCodeError: pass\n"
            "print('custom_networks' in sys.modules)")
    tests = str(Path(__file__).parent)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": tests, "PATH": ""})
    assert done.stdout.strip() == "False"


def test_the_cli_loads_a_custom_model_with_trust_code(tmp_path, images, capsys):
    X, _ = images
    aekit.AutoEncoder(latent_dim=2, network=RESNET, **fast()).fit(X).save(tmp_path / "m")
    np.save(tmp_path / "x.npy", X)
    args = ["encode", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "x.npy"), "--format", "npy"]
    assert main(args) != 0
    assert "--trust-code" in capsys.readouterr().err
    assert main([*args, "--trust-code"]) == 0


def test_networks_that_cannot_be_saved_or_do_not_fit_are_refused(tmp_path, images):
    X, _ = images
    with pytest.raises(ValueError, match="module-level function"):
        aekit.CustomNetwork(lambda sample_shape: torch.nn.Identity(), "custom_networks:small_resnet_decoder")
    with pytest.raises(ValueError, match="JSON values"):
        aekit.CustomNetwork("custom_networks:wrong_encoder", "custom_networks:small_resnet_decoder",
                            width=object())
    wrong = aekit.CustomNetwork("custom_networks:wrong_encoder", "custom_networks:small_resnet_decoder")
    with pytest.raises(ValueError, match=r"must map \(n, \*\(1, 8, 8\)\) to \(n, features\)"):
        aekit.AutoEncoder(latent_dim=2, network=wrong, **fast()).fit(X)
