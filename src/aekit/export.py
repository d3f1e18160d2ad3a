"""Deploy a model without aekit or torch: ONNX graphs, and a JSON of everything around them.

``export_onnx(model_or_detector, folder)`` writes

* ``encoder.onnx``: ``x`` (a batch of inputs in the data's own units and shape) -> ``mean``
  (the codes), plus ``std`` for a variational model;
* ``decoder.onnx``: ``z`` (a batch of codes) -> ``x`` (the likelihood's mean, in the data's
  units);
* for an :class:`~aekit.AnomalyDetector` (or a ``StreamDetector``'s), ``score.onnx``: ``x``
  -> ``score``, the detector's ``anomaly_score`` (higher = more anomalous; flag it above
  ``threshold``), and ``contributions`` in ``x``'s shape, its explanation (each input
  dimension's part of the score above a normal input's; ``AnomalyDetector.explain``). A
  variational score takes its sampling noise as an input, ``noise`` of shape (k, 1,
  latent_dim): never a random operation inside the graph. The noise aekit itself uses is
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

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._atomic import atomic_dir
from .detectors import AnomalyDetector, StreamDetector
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
    stream = model if isinstance(model, StreamDetector) else None
    if stream is not None:
        model = stream.detector_  # (set when the stream is made)
    if not isinstance(model, (AnomalyDetector, BaseAutoEncoder)):
        raise InvalidInputError("export needs a fitted aekit model, AnomalyDetector or StreamDetector")
    check_is_fitted(model, "threshold_" if isinstance(model, AnomalyDetector) else "model_")
    # A copy: the graphs are traced on the CPU, and the caller's model stays where it is.
    model = copy.deepcopy(model)
    detector = model if isinstance(model, AnomalyDetector) else None
    estimator = detector.model_ if detector is not None else model
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
            manifest["stream"] = stream.export_manifest()
        (tmp / "aekit-onnx.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _export_score(detector, example: torch.Tensor, path) -> dict:
    graph = detector.score_graph()
    inputs, names = (example,), ["x"]
    if graph.k:
        inputs, names = (example, graph.noise), ["x", "noise"]
    _export(graph, inputs, path, names, ["score", "contributions"], batch_inputs=("x",))
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


def _check_replaceable(folder: Path) -> None:
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_dir() and not folder.is_symlink():
        names = {p.name for p in folder.iterdir()}
        if not names or ("aekit-onnx.json" in names and names <= {*ONNX_FILES, "aekit-onnx.json"}):
            return
    raise OutputError(f"refusing to export to {folder}: it is not empty and not an earlier aekit export. "
                      "Choose another path, or move it away first")
