"""aekit sample: decode codes from the prior, or from a mixture fitted to the data's codes."""

from __future__ import annotations

from pathlib import Path

from .. import plots
from ..data.options import from_arguments, positive_int
from ..errors import InvalidInputError
from ..tasks import latent
from .base import Verb, common, opt
from .common import (
    data_for,
    load_model,
    save_array,
    write_summary,
    writes_folder,
)


@writes_folder
def sample(*, model, out, n=36, source=None, mixture_components=0, data_options=None,
           random_state=0, device=None, trust_code=False) -> Path:
    """Prior samples; with ``mixture_components`` and data, samples from a mixture on its codes."""
    estimator = load_model(model, device, trust_code)
    figures = ["samples.png"]
    if mixture_components:
        if source is None:
            raise InvalidInputError("sampling from a code mixture needs --data (the codes to fit)")
        data = data_for(estimator, source, data_options)
        drawn = latent.sample_code_mixture(estimator, data.X, n, mixture_components, random_state)
        where = f"a {mixture_components}-component Gaussian mixture on the codes"
    else:
        drawn = estimator.sample(n, random_state=random_state)
        where = "the prior" if estimator.is_variational else "a Gaussian fitted to the training codes"
    save_array(out / "samples.npy", drawn)
    plots.samples_figure(drawn, out / "samples.png", title=f"Samples from {where}")
    if estimator.likelihood_ == "gaussian_learned":
        means = estimator.sample(12, random_state=random_state)
        draws = estimator.sample(12, random_state=random_state, from_likelihood=True)
        plots.rows_figure([means, draws], ["decoder mean", "draw from p(x|z)"],
                          "Learned-variance decoder: the mean and a sample for the same codes",
                          out / "mean_and_draws.png")
        figures.append("mean_and_draws.png")
    return write_summary(out, "sample.json", {"n": n, "from": where, "figures": figures}, model)


VERB = Verb("sample", "generate: decode codes from the prior, or from a mixture fitted to data codes",
            lambda a: sample(**common(a), n=a.n, source=a.data if a.mixture else None,
                             mixture_components=a.mixture, data_options=from_arguments(a)), options=[
                opt("--n", type=positive_int, default=36, help="how many (default: 36)"),
                opt("--mixture", type=int, default=0, metavar="K",
                    help="fit a K-component Gaussian mixture to the codes of --data and sample it"),
            ])
