"""Deploy a model without aekit or torch: ONNX graphs, and a JSON of everything around them.

``export_onnx(model_or_detector, folder)`` writes

* ``encoder.onnx``: ``x`` (a batch of inputs in the data's own units and shape) -> ``mean``
  (the codes), plus ``std`` for a variational model;
* ``decoder.onnx``: ``z`` (a batch of codes) -> ``x`` (the likelihood's mean, in the data's
  units);
* for an :class:`~aekit.AnomalyDetector` (or a ``StreamDetector``'s), ``score.onnx``: ``x``
  -> ``score``, the detector's ``anomaly_score`` (higher = more anomalous; flag it above
  ``threshold``). A variational score takes its sampling noise as an input, ``noise`` of shape
  (k, 1, latent_dim): never a random operation inside the graph. The noise aekit itself uses is
  in ``aekit-onnx.json``, so the graph reproduces aekit's scores;
* ``aekit-onnx.json``: the input's shape, the preprocessing (already inside the graphs; listed
  for reference), the score, threshold, noise and, for a stream, the window.

Every graph has a dynamic batch axis. The data's preprocessing is inside the graphs, so a row
goes in as it is in the user's file. The folder is written atomically.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._atomic import atomic_dir
from .errors import InvalidInputError, OutputError, UnsupportedOperationError
from .estimators import BaseAutoEncoder

FORMAT, FORMAT_VERSION = "aekit-onnx", 1
OPSET = 17
ONNX_FILES = ("encoder.onnx", "decoder.onnx", "score.onnx")


def export_onnx(model, folder) -> dict:
    """Write ``model`` (a fitted aekit estimator, an ``AnomalyDetector`` or a ``StreamDetector``)
    to ``folder`` as ONNX graphs and ``aekit-onnx.json``; returns that JSON's content. An
    existing ``folder`` is replaced only when it is empty or an earlier export."""
    try:
        import onnx  # noqa: F401  (torch's exporter writes the graphs with it)
    except ImportError as exc:
        raise UnsupportedOperationError("exporting to ONNX needs the onnx package: "
                                        "pip install 'aekit[onnx]'") from exc
    stream = None
    if hasattr(model, "running_") and hasattr(model, "detector_"):  # a StreamDetector
        stream, model = model, model.detector_
    # A copy: the graphs are traced on the CPU, and the caller's model stays where it is.
    model = copy.deepcopy(model)
    detector = model if hasattr(model, "threshold_") else None
    estimator = detector.model_ if detector is not None else model
    if not isinstance(estimator, BaseAutoEncoder) or not hasattr(estimator, "model_"):
        raise InvalidInputError("export needs a fitted aekit model, AnomalyDetector or StreamDetector")
    if estimator.model_.config.n_classes:
        raise UnsupportedOperationError("conditional models are not exported to ONNX yet: their decoder "
                                        "needs a label input")
    if detector is not None and detector.density_ is not None:
        raise UnsupportedOperationError("a detector with code_density=True is not exported to ONNX: the "
                                        "Gaussian mixture has no graph here")
    net = estimator.model_.cpu().eval()
    shape = tuple(estimator.input_shape_)
    example = torch.zeros(2, *shape)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": type(estimator).__name__,
                "input_shape": list(shape), "latent_dim": estimator.latent_dim,
                "preprocessing": estimator.scaler_.to_dict(),
                "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx"}}
    if folder is None or not str(folder).strip():  # checked before Path(), which turns "" into "."
        raise OutputError("the export folder is empty: name a folder (e.g. --out runs/export)")
    _check_replaceable(Path(folder))
    with atomic_dir(folder) as tmp:
        encoder_outputs = ["mean", "std"] if net.stochastic else ["mean"]
        _export(_Encoder(estimator), (example,), tmp / "encoder.onnx", ["x"], encoder_outputs)
        codes = torch.zeros(2, estimator.latent_dim)
        _export(_Decoder(estimator), (codes,), tmp / "decoder.onnx", ["z"], ["x"])
        if detector is not None:
            manifest["files"]["score"] = "score.onnx"
            manifest["detector"] = _export_score(detector, example, tmp / "score.onnx")
        if stream is not None:
            # Where the running distribution stands: the healthy scores for a stream that has
            # seen no row, the new model's recent scores after a continual-learning swap.
            initial = stream.running_.scores
            manifest["stream"] = {"window": stream.window, "channels": stream.channels,
                                  "sequences": stream.sequences, "history": stream.history,
                                  "smoothing": stream.smoothing, "alarm_level": stream.alarm_level,
                                  "initial_scores": initial.tolist()}
        (tmp / "aekit-onnx.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _export_score(detector, example: torch.Tensor, path) -> dict:
    graph = _Score(detector)
    inputs, names = (example,), ["x"]
    if graph.k:
        inputs, names = (example, graph.noise), ["x", "noise"]
    _export(graph, inputs, path, names, ["score"], batch_inputs=("x",))
    info = {"score": detector.score_, "threshold": float(detector.threshold_),
            "n_neighbors": detector.n_neighbors_, "contamination": detector.contamination}
    if graph.k:
        info["noise"] = graph.noise.tolist()
    return info


def _export(module: nn.Module, inputs: tuple, path, input_names, output_names, batch_inputs=None) -> None:
    batch_inputs = input_names if batch_inputs is None else batch_inputs
    axes = {name: {0: "batch"} for name in [*batch_inputs, *output_names]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice is not the user's
        torch.onnx.export(module.eval(), inputs, str(path), input_names=input_names,
                          output_names=output_names, dynamic_axes=axes, opset_version=OPSET, dynamo=False)


class _Encoder(nn.Module):
    def __init__(self, estimator):
        super().__init__()
        self.net, self.scaler = estimator.model_, estimator.scaler_
        self.sample_shape = tuple(estimator.sample_shape_)

    def forward(self, x):
        code = self.net.encode(self.scaler.transform(x.reshape(-1, *self.sample_shape)), sample=False)
        return code.mean if code.logvar is None else (code.mean, torch.exp(0.5 * code.logvar))


class _Decoder(nn.Module):
    def __init__(self, estimator):
        super().__init__()
        self.net, self.scaler = estimator.model_, estimator.scaler_
        self.input_shape = tuple(estimator.input_shape_)

    def forward(self, z):
        mean = self.net.likelihood.mean(self.net.decode(z))
        return self.scaler.inverse(mean).reshape(-1, *self.input_shape)


class _Score(nn.Module):
    """The detector's anomaly_score: the model's score, the neighbour distance, standardised
    and added as AnomalyDetector._combine does."""

    def __init__(self, detector):
        super().__init__()
        estimator = detector.model_
        self.net, self.scaler, self.kind = estimator.model_, estimator.scaler_, detector.score_
        self.sample_shape = tuple(estimator.sample_shape_)
        if self.kind == "elbo":  # an average over 16 noise draws: not one graph input
            raise UnsupportedOperationError("score='elbo' is not exported to ONNX; use 'log_likelihood' or "
                                            "'reconstruction'")
        self.k = estimator._score_k if self.kind == "log_likelihood" else 0
        if self.k:  # the noise aekit's own scores use (BaseAutoEncoder._bound's first draw)
            generator = torch.Generator().manual_seed(estimator.seed_)
            self.noise = torch.randn(self.k, 1, estimator.latent_dim, generator=generator)
        self.floor = float(getattr(detector, "detail_floor_", 0.0))
        self.standardise = list(detector.standardise_) if len(detector.standardise_) > 1 else None
        self.n_neighbors = detector.n_neighbors_
        if detector.neighbors_ is not None:
            self.register_buffer("reference", torch.from_numpy(np.asarray(detector.reference_, np.float32)))

    def forward(self, x, noise=None):
        raw = x.reshape(-1, *self.sample_shape)
        data = self.scaler.transform(raw)
        if self.kind == "reconstruction":
            params = self.net.decode(self.net.encode(data, sample=False).mean)
            scores = [self.net.likelihood.nll_per_dim(params.unsqueeze(0), data)[0].flatten(1).sum(1)]
        elif self.kind == "relative":
            params = self.net.decode(self.net.encode(data, sample=False).mean)
            rebuilt = self.scaler.inverse(self.net.likelihood.mean(params))
            error = (rebuilt - raw).abs().flatten(1).sum(1)
            # total_variation, with slices: ONNX has no diff
            detail = ((raw[..., 1:, :] - raw[..., :-1, :]).abs().flatten(1).sum(1)
                      + (raw[..., 1:] - raw[..., :-1]).abs().flatten(1).sum(1))
            scores = [error / detail.clamp(min=self.floor)]
        else:  # log_likelihood: the importance-sampled bound with the given noise
            scores = [-self.net(data, k=self.k, eps=noise).bound]
        if self.n_neighbors:
            scores.append(self._neighbor_distance(data.flatten(1)))
        if self.standardise is None:
            return scores[0]
        return sum((s - m) / sd for s, (m, sd) in zip(scores, self.standardise, strict=True))

    def _neighbor_distance(self, rows):
        squared = (rows.pow(2).sum(1, keepdim=True) - 2 * rows @ self.reference.T
                   + self.reference.pow(2).sum(1)).clamp(min=0)
        return torch.topk(squared, self.n_neighbors, dim=1, largest=False).values[:, -1].sqrt()


def _check_replaceable(folder: Path) -> None:
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_dir() and not folder.is_symlink():
        names = {p.name for p in folder.iterdir()}
        if not names or ("aekit-onnx.json" in names and names <= {*ONNX_FILES, "aekit-onnx.json"}):
            return
    raise OutputError(f"refusing to export to {folder}: it is not empty and not an earlier aekit export. "
                      "Choose another path, or move it away first")
