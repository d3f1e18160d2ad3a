"""aekit attribute: add an attribute vector (mean code of one group minus another's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from ..data.stream import select_rows
from ..errors import InvalidInputError
from ..tasks import latent
from .base import Verb, floats, opt, with_data
from .common import (
    load_with_data,
    save_array,
    write_summary,
    writes_folder,
)


@writes_folder
def attribute(*, model, source, out, group_a=None, group_b=None, factor=None,
              strengths=(0.0, 0.5, 1.0, 1.5), n_show=8, data_options=None, device=None,
              trust_code=False) -> Path:
    """Attribute vector from labels (group_a minus group_b) or a factor (top minus bottom quartile)."""
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    if factor is not None:
        if factor not in data.factors:
            raise InvalidInputError(f"{data.name} has no factor {factor!r}; it has {sorted(data.factors)}")
        values = data.factors[factor]
        with_attr, without = values >= np.quantile(values, 0.75), values <= np.quantile(values, 0.25)
        name = f"more {factor}"
    else:
        if data.y is None or group_a is None or group_b is None:
            raise InvalidInputError("give --group-a and --group-b (labels of the data), or --factor")
        labels = np.asarray(data.y).astype(str)
        with_attr, without = labels == str(group_a), labels == str(group_b)
        name = f"{group_a} minus {group_b}"
    for group, members in ((group_a or "top quartile", with_attr), (group_b or "bottom quartile", without)):
        if not members.any():
            raise InvalidInputError(f"no input of {data.name} is in the group {group!r}")
    vector = latent.attribute_vector(estimator, select_rows(data.X, np.flatnonzero(with_attr)),
                                     select_rows(data.X, np.flatnonzero(without)))
    shown = np.flatnonzero(without)[:n_show]
    decoded = latent.apply_attribute(estimator, data.X[shown], vector, strengths)
    plots.rows_figure(list(decoded), [f"α = {a:g}" for a in strengths], f"Attribute vector: {name}",
                      out / "attribute.png")
    save_array(out / "attribute_vector.npy", vector)
    summary = {"attribute": name, "norm": float(np.linalg.norm(vector)), "strengths": list(strengths),
               "figures": ["attribute.png"]}
    return write_summary(out, "attribute.json", summary, model)


VERB = Verb("attribute", "add an attribute vector (mean code of one group minus another's)",
            lambda a: attribute(**with_data(a), group_a=a.group_a, group_b=a.group_b, factor=a.factor,
                                strengths=tuple(a.strengths)), options=[
                opt("--group-a", help="label of the inputs that have the attribute"),
                opt("--group-b", help="label of the inputs that lack it (and are shown changed)"),
                opt("--factor", help="a generative factor instead (shapes: size, x, y, rotation)"),
                opt("--strengths", type=floats, default=[0, 0.5, 1, 1.5],
                    help="multiples of the vector added, comma-separated"),
            ])
