"""aekit interpolate: decode the linear and spherical paths between two samples' codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from ..data.options import positive_int
from ..errors import InvalidInputError
from ..tasks import latent
from .base import Verb, int_list, opt, with_data
from .common import (
    load_with_data,
    save_array,
    write_summary,
    writes_folder,
)


@writes_folder
def interpolate(*, model, source, out, pair=(0, 1), steps=10, data_options=None, label=None,
                device=None, trust_code=False) -> Path:
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    i, j = pair
    for k in (i, j):
        if not 0 <= k < len(data):
            raise InvalidInputError(f"--pair index {k} is outside the data (0..{len(data) - 1})")
    label = latent.decoding_label(estimator, label)
    rows = [latent.interpolate(estimator, data.X[i], data.X[j], steps, method, y=label)
            for method in ("linear", "spherical")]
    save_array(out / "interpolate.npy", np.stack(rows))
    plots.rows_figure(rows, ["linear", "spherical"], f"Interpolation from sample {i} to sample {j}",
                      out / "interpolate.png", col_labels=[f"{t:.2f}" for t in np.linspace(0, 1, steps)])
    return write_summary(out, "interpolate.json",
                         {"pair": [i, j], "steps": steps, "figures": ["interpolate.png"]},
                    model)


def _run(args):
    if len(args.pair) != 2:
        raise InvalidInputError("--pair takes exactly two indices, e.g. --pair 3,17")
    return interpolate(**with_data(args), pair=tuple(args.pair), steps=args.steps, label=args.label)


VERB = Verb("interpolate", "decode the linear and spherical paths between two samples' codes", _run, options=[
    opt("--pair", type=int_list, default=[0, 1], help="two sample indices (default: 0,1)"),
    opt("--steps", type=positive_int, default=10, help="images along each path"),
    opt("--label", help="class to decode with (conditional models)"),
])
