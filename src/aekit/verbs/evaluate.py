"""aekit evaluate: the codes against PCA (clustering and probes), against known factors
(disentanglement: MIG, DCI, SAP, and each dimension named), the parabola curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from ..data.layout import loaded
from ..errors import InvalidInputError
from ..tasks import encode as encode_tasks
from ..tasks import factors as factor_tasks
from .base import Verb, with_data
from .common import (
    load_with_data,
    write_summary,
    writes_folder,
)


@writes_folder
def evaluate(*, model, source, out, data_options=None, device=None, trust_code=False) -> Path:
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    data = loaded(data, "evaluate compares the codes with PCA fitted on the data in memory")
    summary: dict = {"data": data.name, "figures": []}
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
                                "labelled data (--label-column), known factors (--factors), or 2-D "
                                "points with a latent_dim=1 model")
    return write_summary(out, "evaluate.json", summary, model)


VERB = Verb("evaluate", "codes against PCA: k-means NMI/ARI, kNN and logistic probes; against known "
            "factors (--factors): MIG, DCI, SAP and each dimension's name; the parabola curves",
            lambda a: evaluate(**with_data(a)))
