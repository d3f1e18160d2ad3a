"""aekit evaluate: the codes against PCA (clustering and probes), against known factors
(disentanglement: MIG, DCI, SAP, and each dimension named), against other runs' codes without
labels (UDR), the parabola curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from ..data.layout import loaded
from ..errors import InvalidInputError
from ..tasks import encode as encode_tasks
from ..tasks import factors as factor_tasks
from .base import Verb, opt, with_data
from .common import (
    load_model,
    load_with_data,
    write_summary,
    writes_folder,
)


@writes_folder
def evaluate(*, model, source, out, data_options=None, device=None, trust_code=False, compare=()) -> Path:
    """``compare``: other runs or model folders (e.g. other seeds) to rank this model among
    without labels (UDR), beside their MIG where the data has factors."""
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    data = loaded(data, "evaluate compares the codes with PCA fitted on the data in memory")
    summary: dict = {"data": data.name, "figures": []}
    if compare:
        others = [load_model(path, device, trust_code) for path in compare]
        summary["ranking"] = _ranking(estimator, others, [str(model), *map(str, compare)], data, out)
        summary["figures"].append("ranking.png")
    if data.y is not None and len(np.unique(data.y)) > 1:
        rows = encode_tasks.evaluate_representation(estimator, data.X, data.y)
        summary["representation"] = rows
        plots.comparison_bars(rows, ["kmeans_nmi", "kmeans_ari", "knn5_accuracy", "logistic_accuracy"],
                              out / "representation.png",
                              title=f"{data.name}: codes against PCA at dimension {estimator.latent_dim}")
        summary["figures"].append("representation.png")
    if data.factors and estimator.latent_dim > 1:
        found = factor_tasks.evaluate_factors(estimator, data.X, data.factors)
        summary["disentanglement"] = found
        labels = [factor_tasks.dimension_label(j, name) for j, name in enumerate(found["latent_names"])]
        plots.factor_matrix(np.asarray(found["mi_share"]), found["factors"], labels, out / "factors.png",
                            title=f"{data.name}: MIG {found['mig']:.2f}, DCI disentanglement "
                                  f"{found['dci']['disentanglement']:.2f}, SAP {found['sap']:.2f}")
        summary["figures"].append("factors.png")
    if estimator.latent_dim == 1 and np.asarray(data.X).ndim == 2 and data.X.shape[1] == 2:
        result = encode_tasks.parabola_comparison(estimator, data.X)
        plots.parabola_figure(np.asarray(data.X), result["ae_curve"], result["pca_curve"],
                              result["ae_mse"], result["pca_mse"], out / "parabola.png")
        summary["curve"] = {"autoencoder_mse": result["ae_mse"], "pca_mse": result["pca_mse"]}
        summary["figures"].append("parabola.png")
    if not summary["figures"]:
        raise InvalidInputError(f"{data.name} has no labels or factors to evaluate codes against; give "
                                "labelled data (--label-column), known factors (--factors), other runs "
                                "to compare with (--compare), or 2-D points with a latent_dim=1 model")
    return write_summary(out, "evaluate.json", summary, model)


def _ranking(estimator, others: list, names: list[str], data, out: Path) -> list[dict]:
    """One row per model: its UDR among them all, its active dimensions, its MIG with factors."""
    found = factor_tasks.compare_models([estimator, *others], data.X, data.factors or None)
    rows = [{"model": name, "udr": float(found["udr"][i]), "active_dimensions": int(found["active"][i]),
             **({"mig": float(found["mig"][i])} if "mig" in found else {})} for i, name in enumerate(names)]
    metrics = ["udr", "mig"] if "mig" in found else ["udr"]
    plots.comparison_bars([{**row, "representation": Path(row["model"]).name} for row in rows], metrics,
                          out / "ranking.png", title=f"{data.name}: {len(rows)} models ranked without labels")
    return rows


VERB = Verb("evaluate", "codes against PCA: k-means NMI/ARI, kNN and logistic probes; against known "
            "factors (--factors): MIG, DCI, SAP and each dimension's name; among other runs without "
            "labels (--compare): UDR; the parabola curves",
            lambda a: evaluate(**with_data(a), compare=a.compare or ()), options=[
                opt("--compare", nargs="+", metavar="RUN",
                    help="other runs (or model folders) of the same data, e.g. other seeds: rank this "
                         "model among them without labels (UDR), beside their MIG with --factors"),
            ])
