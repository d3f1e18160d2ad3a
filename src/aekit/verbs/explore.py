"""aekit explore: serve the latent-space explorer of a run or model folder in the browser."""

from __future__ import annotations

from ..data.options import from_arguments
from ..errors import InvalidInputError
from ..explorer import MAX_POINTS, Explorer, serve, serve_until_interrupted
from .base import TRUST_CODE, Verb, at_least_two, opt, port
from .common import data_for, latent_names, load_model, trained_on


def explorer(*, model, source=None, data_options=None, device=None, trust_code=False,
             max_points=None) -> Explorer:
    """The ``Explorer`` of a run or model folder, with ``source`` on its map (default: the data
    a run folder was trained on)."""
    estimator = load_model(model, device, trust_code)
    if source is None:
        source, data_options = trained_on(model)
        if source is None:
            raise InvalidInputError(f"{model} does not say which data its model was trained on: "
                                    "give the data to map with --data")
    data = data_for(estimator, source, data_options)
    flat_windows = data.windows is not None and len(estimator.input_shape_) == 1
    names = data.windows.columns if data.windows is not None else data.feature_names
    return Explorer(estimator, data.X, data.y, feature_names=names,
                    window_channels=data.windows.channels if flat_windows else None,
                    max_points=max_points or MAX_POINTS, latent_names=latent_names(estimator, model))


def _run(args):
    """Serve the explorer until Ctrl-C."""
    session = explorer(model=args.model_path, source=args.data,
                       data_options=from_arguments(args) if args.data else None,
                       device=args.device, trust_code=args.trust_code, max_points=args.max_points)
    serve_until_interrupted(serve(session, args.host, args.port), args.open)
    return None


VERB = Verb("explore", "explore the latent space in the browser: the map of codes, one latent value at a "
            "time, paths between inputs, attribute vectors, your own inputs", _run, model=False,
            data_default=None, options=[
                opt("model_path", metavar="RUN_OR_MODEL", help="a run folder or a model folder"),
                opt("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                    "machine only)"),
                opt("--port", type=port, default=8765, help="(default: 8765; 0 picks a free one)"),
                opt("--open", action="store_true", help="open the page in the default web browser"),
                opt("--max-points", type=at_least_two,
                    help=f"inputs on the map, sampled (default: {MAX_POINTS})"),
                TRUST_CODE,
            ])
