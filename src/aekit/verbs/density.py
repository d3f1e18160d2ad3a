"""aekit density: importance-sampled log p(x), bits per dimension, the uncertainty of each code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from .._atomic import atomic_path
from ..data.options import positive_int
from ..tasks import density as density_tasks
from .base import Verb, opt, with_data
from .common import (
    load_with_data,
    write_summary,
    writes_folder,
)


@writes_folder
def density(*, model, source, out, data_options=None, k=1000, n_show=10, device=None,
            trust_code=False) -> Path:
    """log p(x) per input (importance-sampled), bits per dimension where meaningful, and the
    uncertainty of each code; figures of the least and most certain inputs."""
    import pandas as pd

    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    X = data.X
    table = {"id": data.ids if data.ids is not None else np.arange(len(X))}
    if data.y is not None:
        table["label"] = data.y
    summary: dict = {"data": data.name, "n": len(X), "figures": []}
    if estimator.is_variational:
        log_px = estimator.log_likelihood(X, k=k)  # a conditional model marginalises over classes
        table["log_px"] = log_px
        summary.update(k=k, mean_log_px_nats=float(log_px.mean()))
        bpd = density_tasks.bits_per_dim(estimator, log_px)
        if bpd is not None:
            table["bits_per_dim"] = bpd
            summary["mean_bits_per_dim"] = float(bpd.mean())
    uncertainty, groups = density_tasks.code_uncertainty(estimator, X, data.y)
    table["uncertainty"] = uncertainty
    summary["uncertainty_by"] = "class" if data.y is not None else "k-means cluster of the codes"
    with atomic_path(out / "density.csv") as tmp:
        pd.DataFrame(table).to_csv(tmp, index=False)
    order = np.argsort(uncertainty)
    rows = [X[order[:n_show]], X[order[::-1][:n_show]]]
    plots.rows_figure(rows, ["most certain", "least certain"],
                      f"{data.name}: codes nearest to and farthest from their {summary['uncertainty_by']}'s "
                      "centre", out / "uncertainty.png")
    summary["figures"].append("uncertainty.png")
    return write_summary(out, "density.json", summary, model)


VERB = Verb("density", "importance-sampled log p(x), bits per dimension, and the uncertainty of each code",
            lambda a: density(**with_data(a), k=a.k), options=[
                opt("--k", type=positive_int, default=1000, help="importance samples (default: 1000)"),
            ])
