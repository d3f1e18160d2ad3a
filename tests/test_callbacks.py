"""Watching a fit: callbacks after each epoch, and TensorBoard logs read back with TensorBoard."""

import numpy as np
import pytest
import torch

import aekit
from aekit.callbacks import TensorBoardLogger
from aekit.cli import main
from conftest import fast

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(folder):
    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


class Recorder:
    def __init__(self):
        self.reports = []

    def on_epoch_end(self, report):
        self.reports.append(report)


def test_callbacks_see_every_epoch_and_do_not_change_the_run(images):
    X, _ = images
    recorder = Recorder()
    watched = aekit.VAE(latent_dim=2, **fast(epochs=4))

    class Reconstructs(Recorder):  # draws random numbers, as a VAE's figures do
        def on_epoch_end(self, report):
            super().on_epoch_end(report)
            watched.reconstruct(X[:3])
            torch.rand(100)

    drawing = Reconstructs()
    watched.fit(X, callbacks=[recorder, drawing])
    plain = aekit.VAE(latent_dim=2, **fast(epochs=4)).fit(X)
    assert [r.epoch for r in recorder.reports] == [1, 2, 3, 4] and len(drawing.reports) == 4
    assert [r.train_loss for r in recorder.reports] == watched.history_["train_loss"]
    assert [r.val_loss for r in recorder.reports] == watched.history_["val_loss"]
    assert all(r.samples_per_second > 0 and r.learning_rate > 0 for r in recorder.reports)
    for name, tensor in plain.model_.state_dict().items():
        assert torch.equal(tensor, watched.model_.state_dict()[name])


def test_tensorboard_logs_losses_rate_speed_and_reconstructions(tmp_path, images):
    X, _ = images
    estimator = aekit.AutoEncoder(latent_dim=2, **fast(epochs=3))
    logger = TensorBoardLogger(tmp_path / "tb", estimator, X[:4])
    estimator.fit(X, callbacks=[logger])
    logger.close()
    events = read_events(tmp_path / "tb")
    tags = events.Tags()
    assert {"loss/train", "loss/validation", "learning_rate", "samples_per_second"} <= set(tags["scalars"])
    train_loss = [e.value for e in events.Scalars("loss/train")]
    np.testing.assert_allclose(train_loss, estimator.history_["train_loss"], rtol=1e-6)
    assert [e.step for e in events.Scalars("loss/validation")] == [1, 2, 3]
    assert len(events.Images("reconstructions")) == 3
    assert events.Images("reconstructions")[0].encoded_image_string.startswith(b"\x89PNG")


def test_train_log_tensorboard_writes_into_the_run_and_starts_afresh(tmp_path, images):
    X, y = images
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    args = ["train", "--data", str(tmp_path / "bars.npz"), "--epochs", "2", "--latent-dim", "2", "--quiet",
            "--out", str(tmp_path / "run"), "--log", "tensorboard"]
    assert main(args) == 0
    assert main(args[:4] + ["3"] + args[5:]) == 0  # a new run in the same folder
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    assert [e.step for e in read_events(events[0]).Scalars("loss/train")] == [1, 2, 3]
