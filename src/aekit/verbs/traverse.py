"""aekit traverse: decode sweeps of each latent dimension."""

from __future__ import annotations

from pathlib import Path

from .. import plots
from ..data.options import from_arguments, positive_int
from ..errors import InvalidInputError
from ..tasks import latent
from .base import Verb, common, int_list, opt
from .common import (
    data_for,
    latent_labels,
    load_model,
    save_array,
    write_summary,
    writes_folder,
)


@writes_folder
def traverse(*, model, out, source=None, index=None, dims=None, steps=9, span=3.0,
             data_options=None, label=None, device=None, trust_code=False) -> Path:
    estimator, x = load_model(model, device, trust_code), None
    if index is not None:
        data = data_for(estimator, source, data_options)
        if not 0 <= index < len(data):
            raise InvalidInputError(f"--index {index} is outside the data (0..{len(data) - 1})")
        x = data.X[index]
    label = latent.decoding_label(estimator, label)
    dims = list(range(min(estimator.latent_dim, 10))) if dims is None else list(dims)
    grid, offsets = latent.traverse(estimator, x, dims, steps, span, y=label)
    save_array(out / "traverse.npy", grid)
    labels = latent_labels(estimator, model)
    plots.rows_figure(list(grid), [labels[d] for d in dims], "Latent traversal: one row per dimension",
                      out / "traverse.png", col_labels=[f"{o:+.1f}σ" for o in offsets])
    around = "origin" if x is None else f"sample {index}"
    return write_summary(out, "traverse.json", {"dims": dims, "labels": [labels[d] for d in dims],
                                                "offsets": offsets, "around": around,
                                                "figures": ["traverse.png"]}, model)


VERB = Verb("traverse", "decode sweeps of each latent dimension (-3..+3 standard deviations)",
            lambda a: traverse(**common(a), source=a.data if a.index is not None else None, index=a.index,
                               dims=a.dims, steps=a.steps, span=a.span, data_options=from_arguments(a),
                               label=a.label), options=[
                opt("--index", type=int, help="sweep around this sample of --data (default: the origin)"),
                opt("--dims", type=int_list, help="comma-separated dimensions (default: the first 10)"),
                opt("--steps", type=positive_int, default=9, help="images per dimension"),
                opt("--span", type=float, default=3.0, help="standard deviations each way (default: 3)"),
                opt("--label", help="class to decode with (conditional models)"),
            ])
