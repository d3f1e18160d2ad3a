"""aekit reconstruct: reconstructions of any data, the error of each input, and a figure."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .. import plots
from .._atomic import atomic_path
from ..data.options import positive_int
from ..data.stream import chunk_rows, write_npy_header
from ..errors import InvalidInputError
from .base import Verb, opt, with_data
from .common import (
    load_with_data,
    write_summary,
    writes_folder,
)


@writes_folder
def reconstruct(*, model, source, out, data_options=None, n_show=12, device=None, trust_code=False) -> Path:
    """Reconstructions of any data: an array in the input's shape (and a table for tables),
    the error of each input, and a figure of the inputs above their reconstructions."""
    import pandas as pd

    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    X, n = data.X, len(data.X)
    if estimator.is_conditional and data.y is None:
        raise InvalidInputError("a conditional model reconstructs with the labels: give labelled data")
    ids = data.ids if data.ids is not None else np.arange(n)
    as_table = data.feature_names is not None and data.windows is None
    files = ["reconstructions.npy", "errors.csv"] + (["reconstructions.csv"] if as_table else [])
    errors, shown = np.empty(n), None
    # A chunk of rows at a time, into files as large as the input: the data may not fit in memory.
    with contextlib.ExitStack() as stack:
        paths = {name: stack.enter_context(atomic_path(out / name)) for name in files}
        X_hat_file = stack.enter_context(open(paths["reconstructions.npy"], "wb"))
        write_npy_header(X_hat_file, X.shape, np.float32)
        step = chunk_rows(int(np.prod(X.shape[1:])))
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            chunk = np.asarray(X[rows])
            y_kw = {"y": data.y[rows]} if estimator.is_conditional else {}
            X_hat = estimator.reconstruct(chunk, **y_kw)
            X_hat_file.write(np.ascontiguousarray(X_hat, dtype=np.float32).tobytes())
            if shown is None:  # the figure's inputs and reconstructions
                shown = chunk[:n_show], X_hat[:n_show]
            errors[rows] = ((X_hat - chunk.astype(np.float64)) ** 2).reshape(len(chunk), -1).mean(axis=1)
            if as_table:
                frame = pd.DataFrame(X_hat, columns=data.feature_names)
                frame.insert(0, "id", ids[rows])
                frame.to_csv(paths["reconstructions.csv"], index=False, mode="a", header=start == 0)
        X_hat_file.close()
        pd.DataFrame({"id": ids, "mse": errors}).to_csv(paths["errors.csv"], index=False)
    plots.reconstruction_figure(*shown, out / "reconstructions.png",
                                title=f"{data.name}: inputs and reconstructions")
    summary = {"data": data.name, "n": n, "mean_mse": float(errors.mean()), "files": files,
               "figures": ["reconstructions.png"]}
    return write_summary(out, "reconstruct.json", summary, model)


VERB = Verb("reconstruct",
            "reconstruct the data: arrays (and a table for tables), errors per input, a figure",
            lambda a: reconstruct(**with_data(a), n_show=a.n_show), options=[
                opt("--n-show", type=positive_int, default=12, help="examples in the figure"),
            ])
