"""Watching a long fit: objects whose ``on_epoch_end(report)`` ``fit`` calls after each epoch.

``report`` is a :class:`aekit.training.EpochReport` (epoch, losses, learning rate, samples/s,
seconds). A callback runs on the main process only, and whatever random numbers it draws (a
VAE's reconstructions) do not change the training run's own.

>>> import numpy as np, aekit
>>> class Printer:
...     def on_epoch_end(self, report):
...         print(report.epoch, report.train_loss > 0)
>>> X = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
>>> _ = aekit.AutoEncoder(latent_dim=2, epochs=2, verbose=0, random_state=0).fit(X, callbacks=[Printer()])
1 True
2 True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InvalidInputError


class TensorBoardLogger:
    """Log each epoch to TensorBoard: ``loss/train``, ``loss/validation``, ``learning_rate``,
    ``samples_per_second``, and (given ``estimator`` and a few inputs ``X``) a figure of those
    inputs and their reconstructions. Needs the ``tensorboard`` package
    (``pip install 'aekit[tensorboard]'``); view with ``tensorboard --logdir LOG_DIR``.
    """

    def __init__(self, log_dir, estimator=None, X=None, y=None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch's writer needs the tensorboard package
            raise InvalidInputError("TensorBoard logging needs the tensorboard package: "
                                    "pip install 'aekit[tensorboard]'") from exc
        self.log_dir = Path(log_dir)
        self._writer = SummaryWriter(log_dir=str(self.log_dir))
        self._estimator, self._X, self._y = estimator, X, y

    def on_epoch_end(self, report) -> None:
        step, write = report.epoch, self._writer.add_scalar
        write("loss/train", report.train_loss, step)
        if report.val_loss is not None:
            write("loss/validation", report.val_loss, step)
        write("learning_rate", report.learning_rate, step)
        write("samples_per_second", report.samples_per_second, step)
        if self._estimator is not None and self._X is not None and len(self._X):
            self._writer.add_figure("reconstructions", self._figure(report), step)
        self._writer.flush()

    def _figure(self, report):
        from . import plots

        labels = {"y": self._y} if self._estimator.is_conditional else {}
        reconstructions = self._estimator.reconstruct(self._X, **labels)
        return plots.reconstruction_figure(np.asarray(self._X), reconstructions, None,
                                           title=f"epoch {report.epoch}: inputs and reconstructions")

    def close(self) -> None:
        self._writer.close()
