"""aekit export: the model (and its anomaly detector) as ONNX graphs, with a JSON of the
preprocessing and threshold."""

from __future__ import annotations

from pathlib import Path

from ..detectors import SCORES, AnomalyDetector, StreamDetector
from ..export import export_onnx
from ..runs import RunFolder
from .base import TRUST_CODE, Verb, neighbors, opt
from .common import data_for, load_model, trained_on


def export(*, model, out, normal_source=None, score="auto", n_neighbors="auto", contamination=0.01,
           trust_code=False) -> dict:
    """Write the model as ONNX (``aekit.export_onnx``), with its detector when there is normal
    data to calibrate one: ``normal_source``, else the data a run folder was trained on. A
    model of windows gets a ``StreamDetector``'s (what ``aekit watch`` would run)."""
    estimator = load_model(model, "cpu", trust_code)
    # A run's data options (its window, its columns) read the normal data as the model was trained.
    run_source, options = trained_on(model)
    normal_source = normal_source or run_source
    exported = estimator
    if normal_source:
        data = data_for(estimator, normal_source, options)
        if data.windows is not None:
            exported = StreamDetector(estimator, data.windows.values, score=score)
        else:
            exported = AnomalyDetector.from_fitted(estimator, data.X, score=score, n_neighbors=n_neighbors,
                                                   contamination=contamination, device="cpu")
    manifest = export_onnx(exported, out)
    manifest["out"] = str(out)
    manifest["calibrated_on"] = str(normal_source) if normal_source else None
    return manifest


def _run(args):
    run = RunFolder.holding_model(args.model_path)
    default = run.verb_dir("export") if run else Path("runs") / "export"
    out = args.out if args.out is not None else str(default)
    manifest = export(model=args.model_path, out=out, normal_source=args.normal_data, score=args.score,
                      n_neighbors=args.neighbors, contamination=args.contamination,
                      trust_code=args.trust_code)
    graphs = ", ".join(manifest["files"].values())
    detector = manifest.get("detector")
    print(f"aekit: export: wrote {graphs} and aekit-onnx.json to {out}" + (
        f" (score {detector['score']}, threshold {detector['threshold']:.4g}, calibrated on "
        f"{manifest['calibrated_on']})" if detector else " (no detector: give --normal-data to add one)"))
    return None


VERB = Verb("export", "write the model (and its anomaly detector) as ONNX graphs for onnxruntime, "
            "with a JSON of the preprocessing and threshold", _run, data=False, model=False, options=[
                opt("model_path", metavar="MODEL", help="a run folder or a model folder"),
                opt("--format", choices=["onnx"], default="onnx", help="(default: onnx)"),
                opt("--out", help="output folder (default: RUN/export for a run folder, else runs/export)"),
                opt("--normal-data", help="normal data that calibrates the detector (default: the data a "
                    "run was trained on; a model folder without it exports the encoder and decoder only)"),
                opt("--score", choices=[s for s in SCORES if s != "elbo"], default="auto",
                    help="the detector's score (as aekit detect)"),
                opt("--neighbors", type=neighbors, default="auto", metavar="auto|K",
                    help="the detector's neighbour distance (as aekit detect)"),
                opt("--contamination", type=float, default=AnomalyDetector().contamination,
                    help="sets the threshold (as aekit detect)"),
                TRUST_CODE,
            ])
