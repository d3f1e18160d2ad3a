"""The ``aekit`` command: argument parsing only; each verb calls one function of ``commands``.

Each verb is one entry of ``VERBS``: its name, its help, its own options, and how its parsed
arguments become a call. Exit status: 0 done; 1 training diverged; 2 bad input, a bad file or
an output that cannot be written (one line, ``aekit: error: ...``); 3 an internal error (a bug:
one line, and the traceback with ``AEKIT_TRACEBACK=1``); 130 interrupted. Outputs are written
atomically, each verb's summary last, so a folder with its summary is complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AekitError, TrainingDivergedError

MODELS = {"ae": "AutoEncoder", "dae": "DenoisingAutoEncoder", "vae": "VAE", "cvae": "ConditionalVAE"}
EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


def _positive_int(text: str, least: int = 1) -> int:
    what = "a positive integer" if least == 1 else f"an integer >= {least}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    return _positive_int(text, least=0)


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def _map_points(text: str) -> int:
    return _positive_int(text, least=2)


def _epochs(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _neighbors(text: str) -> int | str | None:
    """auto, 0 (none) or a count."""
    return "auto" if text == "auto" else (_non_negative_int(text) or None)


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts, default=0) < 1:
        raise argparse.ArgumentTypeError(f"expected a side like 32 or HxW like 28x28, got {text!r}")
    return (parts[0], parts[-1])


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_data_arguments(parser: argparse.ArgumentParser, default: str | None = "digits") -> None:
    """--data and its options, shared by every verb that reads data (docs/data.md)."""
    g = parser.add_argument_group("data")
    g.add_argument("--data", default=default,
                   help="built-in (digits, shapes, parabola, photos), named set (fashion-mnist, "
                        "mnist, kmnist) or path: image folder, .npy, .npz, IDX, .csv/.tsv/.parquet "
                        + ("(default: digits)" if default else "(default: the data the run was trained on)"))
    g.add_argument("--split", choices=["train", "test"], default="train", help="split of a named set")
    g.add_argument("--array", help=".npz archives: the array that holds the samples (default: X)")
    g.add_argument("--label-column", help="table column (or .npz array) holding labels")
    g.add_argument("--id-column", help="table column holding ids, carried through to outputs")
    g.add_argument("--feature-columns", type=lambda t: t.split(","), help="comma-separated feature columns")
    g.add_argument("--missing", choices=["error", "drop", "impute"], default="error",
                   help="missing or non-numeric table cells: fail (default), drop rows, or impute the median")
    g.add_argument("--window", type=_positive_int, help="time series: window length in rows")
    g.add_argument("--stride", type=_positive_int, help="time series: rows between windows (window/4)")
    g.add_argument("--timestamp-column",
                   help="time series: the timestamp column (default: timestamp, time, or the first)")
    g.add_argument("--time-order", choices=["auto", "file", "sort", "error"], default="auto",
                   help="time series whose timestamps step back or repeat: auto (default: keep the "
                        "file's order, with a warning, when at most 1%% of steps do; refuse more), "
                        "sort, file, or error")
    g.add_argument("--size", type=_size,
                   help="image side or HxW: resize an image folder; the size of shapes/photos")
    g.add_argument("--channels", type=int, choices=[1, 3], help="image folders: 1 greyscale, 3 RGB")
    g.add_argument("--alpha", choices=["composite", "drop", "keep"], default="composite",
                   help="image folders, transparent images: composite over white (default), drop the "
                        "alpha channel, or keep it as a channel")
    g.add_argument("--skip-bad", action="store_true", help="image folders: skip unreadable images")
    g.add_argument("--count", type=_positive_int, help="how many samples generated built-ins make")
    g.add_argument("--stream", action="store_const", const=True, default="auto",
                   help="read the data from disk a batch at a time (default: when they are larger than "
                        "--max-memory; docs/data.md lists the sources that stream)")
    g.add_argument("--workers", type=_non_negative_int, default=0, metavar="N",
                   help="streamed image folders: decode in N worker processes (default 0: two threads)")
    g.add_argument("--max-memory", type=_bytes, metavar="SIZE",
                   help="load at most this much data into memory, e.g. 4G or 500M (default: half of "
                        "the memory available)")


def _bytes(text: str) -> int:
    """'500M', '4G', '2.5G' or a number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500M or 4G") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("the size must be positive")
    return int(value)


def data_options(args) -> dict:
    return {"split": args.split, "array": args.array, "label_column": args.label_column,
            "id_column": args.id_column, "feature_columns": args.feature_columns, "missing": args.missing,
            "window": args.window, "stride": args.stride, "timestamp_column": args.timestamp_column,
            "time_order": args.time_order,
            "size": args.size, "channels": args.channels, "alpha": args.alpha, "skip_bad": args.skip_bad,
            "count": args.count, "stream": args.stream, "max_memory": args.max_memory,
            "workers": args.workers}


def opt(*flags, **kwargs):
    """One option of a verb, as ``add_argument`` takes it."""
    return flags, kwargs


@dataclass
class Verb:
    """A verb of the command line: its options and how its arguments become a command call."""

    name: str
    help: str
    call: object  # (args) -> Path of the summary written, or None
    options: list = field(default_factory=list)
    data: bool = True  # reads --data
    data_default: str | None = "digits"  # None: the verb finds its own data when --data is absent
    model: bool = True  # reads --model and writes --out (default RUN/<verb>)


def _commands():
    from . import commands

    return commands


def _common(args) -> dict:
    """The keyword arguments every model verb's command takes."""
    return {"model": args.model, "out": args.out, "device": args.device, "trust_code": args.trust_code}


def _with_data(args) -> dict:
    return {**_common(args), "source": args.data, "data_options": data_options(args)}


def _train(args):
    params = {"latent_dim": args.latent_dim, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.lr, "network": args.network, "likelihood": args.likelihood,
              "random_state": args.seed, "verbose": 0 if args.quiet else 1, "device": args.device,
              "deterministic": args.deterministic, "compile": args.compile}
    if args.model in ("vae", "cvae"):
        params.update(beta=args.beta, binarize=args.binarize)
    if args.model == "dae":
        params.update(corruption=args.corruption, corruption_level=args.corruption_level,
                      mask_mode=args.mask_mode, patch_size=args.patch_size)
    estimator = _commands().train(source=args.data, preset=MODELS[args.model], params=params, out=args.out,
                                  resume=args.resume, data_options=data_options(args), log=args.log)
    from ._distributed import is_main_process

    if not is_main_process():  # under torchrun, process 0 speaks for all
        return
    history = estimator.history_
    best = f", best validation loss {min(history['val_loss']):.4g}" if history["val_loss"] else ""
    print(f"aekit: trained {MODELS[args.model]} for {estimator.n_iter_} epochs "
          f"(final training loss {history['train_loss'][-1]:.4g}{best}); wrote {args.out}")


def _interpolate(args):
    from .errors import InvalidInputError

    if len(args.pair) != 2:
        raise InvalidInputError("--pair takes exactly two indices, e.g. --pair 3,17")
    return _commands().interpolate(**_with_data(args), pair=tuple(args.pair), steps=args.steps,
                                   label=args.label)


def _restore(args):
    return _commands().restore(task=args.verb, **_with_data(args), level=args.level,
                               mask_mode=getattr(args, "mask_mode", None),
                               patch_size=getattr(args, "patch_size", None), n_show=args.n_show)


def _watch(args):
    """Score a live series; Ctrl-C (or the reader downstream closing the pipe) ends it cleanly."""
    from .commands import load_model
    from .watching import watch

    estimator = load_model(args.model, args.device, args.trust_code)
    try:
        n = watch(estimator=estimator, model_path=args.model, source=args.data,
                  normal_source=args.normal_data, out=args.out, follow=args.follow,
                  timestamp_column=args.timestamp_column, history=args.history,
                  smoothing=args.smoothing, alarm_level=args.alarm_level, refit_every=args.refit_every,
                  refit_steps=args.refit_steps)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.stderr.write("aekit: watch: stopped\n")
        return None
    print(f"aekit: watch: scored {n} rows", file=sys.stderr)
    return None


def _export(args):
    from .runs import RunFolder

    run = RunFolder.holding_model(args.model_path)
    default = run.verb_dir("export") if run else Path("runs") / "export"
    out = args.out if args.out is not None else str(default)
    manifest = _commands().export(model=args.model_path, out=out, normal_source=args.normal_data,
                                  score=args.score, n_neighbors=args.neighbors,
                                  contamination=args.contamination, trust_code=args.trust_code)
    graphs = ", ".join(manifest["files"].values())
    detector = manifest.get("detector")
    print(f"aekit: export: wrote {graphs} and aekit-onnx.json to {out}" + (
        f" (score {detector['score']}, threshold {detector['threshold']:.4g}, calibrated on "
        f"{manifest['calibrated_on']})" if detector else " (no detector: give --normal-data to add one)"))
    return None


def _explore(args):
    """Serve the explorer until Ctrl-C."""
    from .explorer import serve, serve_until_interrupted

    explorer = _commands().explorer(model=args.model_path, source=args.data,
                                    data_options=data_options(args) if args.data else None,
                                    device=args.device, trust_code=args.trust_code,
                                    max_points=args.max_points)
    serve_until_interrupted(serve(explorer, args.host, args.port), args.open)
    return None


_RESTORE_OPTIONS = [
    opt("--level", type=float, help="damage strength (default: the model's training level)"),
    opt("--n-show", type=_positive_int, default=10, help="examples in the figure"),
]

VERBS = [
    Verb("train", "train a model and write a run folder", _train, model=False, options=[
        opt("--model", choices=MODELS, default="vae", help="preset (default: vae)"),
        opt("--latent-dim", type=_positive_int, default=8, help="code size (default: 8)"),
        opt("--epochs", type=_epochs, default="auto",
            help="maximum epochs, or auto: 50, more for small data (at least 2,000 steps; "
                 "1,000 for table rows)"),
        opt("--batch-size", type=_positive_int, default=64, help="(default: 64)"),
        opt("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)"),
        opt("--network", choices=["auto", "mlp", "conv", "resnet", "temporal"], default="auto",
            help="auto: conv for images, temporal for --window series, else mlp"),
        opt("--likelihood", choices=["auto", "bernoulli", "gaussian", "gaussian_learned"], default="auto"),
        opt("--beta", type=float, default=1.0, help="KL weight (vae, cvae)"),
        opt("--binarize", action="store_true",
            help="dynamic binarisation: a fresh Bernoulli draw of every batch (vae, cvae)"),
        opt("--corruption", choices=["gaussian", "salt_pepper", "mask", "greyscale"], default="gaussian",
            help="what the denoising model sees (dae)"),
        opt("--corruption-level", type=float, default=0.3,
            help="noise std (gaussian), or fraction flipped (salt_pepper) or masked (mask)"),
        opt("--mask-mode", choices=["pixels", "patches", "features"], default="pixels"),
        opt("--patch-size", type=_positive_int, default=4),
        opt("--seed", type=int, default=0),
        opt("--out", default="runs/train", help="run folder (default: runs/train)"),
        opt("--resume", action="store_true",
            help="continue from the run folder's checkpoint after an interruption"),
        opt("--quiet", action="store_true", help="no progress bar"),
        # --logger too: under torchrun, "--log" is taken for an abbreviation of torchrun's own --log-dir.
        opt("--log", "--logger", dest="log", choices=["none", "tensorboard"], default="none",
            help="also log every epoch to RUN/tensorboard (needs aekit[tensorboard]; "
                 "under torchrun write --logger)"),
        opt("--deterministic", action="store_true",
            help="only deterministic kernels: the same weights for a seed on a GPU too (slower)"),
        opt("--compile", action="store_true", help="torch.compile the networks before training"),
    ]),
    Verb("encode", "write the codes of the data (with ids and labels) and a latent map",
         lambda a: _commands().encode(**_with_data(a), fmt=a.format, projection=a.projection), options=[
             opt("--format", choices=["parquet", "csv", "npz", "npy"], default="parquet"),
             opt("--projection", choices=["pca", "tsne"], default="pca", help="latent map of > 2-D codes"),
         ]),
    Verb("reconstruct", "reconstruct the data: arrays (and a table for tables), errors per input, a figure",
         lambda a: _commands().reconstruct(**_with_data(a), n_show=a.n_show), options=[
             opt("--n-show", type=_positive_int, default=12, help="examples in the figure"),
         ]),
    Verb("evaluate", "codes against PCA: k-means NMI/ARI, kNN and logistic probes; the parabola curves",
         lambda a: _commands().evaluate(**_with_data(a))),
    Verb("traverse", "decode sweeps of each latent dimension (-3..+3 standard deviations)",
         lambda a: _commands().traverse(**_common(a), source=a.data if a.index is not None else None,
                                        index=a.index, dims=a.dims, steps=a.steps, span=a.span,
                                        data_options=data_options(a), label=a.label), options=[
             opt("--index", type=int, help="sweep around this sample of --data (default: the origin)"),
             opt("--dims", type=_int_list, help="comma-separated dimensions (default: the first 10)"),
             opt("--steps", type=_positive_int, default=9),
             opt("--span", type=float, default=3.0, help="standard deviations each way (default: 3)"),
             opt("--label", help="class to decode with (conditional models)"),
         ]),
    Verb("interpolate", "decode the linear and spherical paths between two samples' codes", _interpolate,
         options=[
             opt("--pair", type=_int_list, default=[0, 1], help="two sample indices (default: 0,1)"),
             opt("--steps", type=_positive_int, default=10),
             opt("--label", help="class to decode with (conditional models)"),
         ]),
    Verb("attribute", "add an attribute vector (mean code of one group minus another's)",
         lambda a: _commands().attribute(**_with_data(a), group_a=a.group_a, group_b=a.group_b,
                                         factor=a.factor, strengths=tuple(a.strengths)), options=[
             opt("--group-a", help="label of the inputs that have the attribute"),
             opt("--group-b", help="label of the inputs that lack it (and are shown changed)"),
             opt("--factor", help="a generative factor instead (shapes: size, x, y, rotation)"),
             opt("--strengths", type=_floats, default=[0, 0.5, 1, 1.5]),
         ]),
    Verb("sample", "generate: decode codes from the prior, or from a mixture fitted to data codes",
         lambda a: _commands().sample(**_common(a), n=a.n, source=a.data if a.mixture else None,
                                      mixture_components=a.mixture, data_options=data_options(a)), options=[
             opt("--n", type=_positive_int, default=36, help="how many (default: 36)"),
             opt("--mixture", type=int, default=0, metavar="K",
                 help="fit a K-component Gaussian mixture to the codes of --data and sample it"),
         ]),
    Verb("detect", "score inputs, flag anomalies, and draw ROC/PR, heat maps or time-series plots",
         lambda a: _commands().detect(**_with_data(a), normal_source=a.normal_data,
                                      contamination=a.contamination, score=a.score,
                                      n_neighbors=a.neighbors, code_density=a.code_density,
                                      anomaly_label=a.anomaly_label), options=[
             opt("--normal-data", help="data known to be normal: sets the threshold (default: --data)"),
             opt("--contamination", type=float, default=0.01,
                 help="fraction of normal inputs above the threshold (default: 0.01)"),
             opt("--score", choices=["auto", "reconstruction", "relative", "elbo", "log_likelihood"],
                 default="auto", help="what makes an input anomalous (see docs/tasks.md; default: 'relative' "
                 "for images, -log p(x) for VAEs of vectors, else 'reconstruction')"),
             opt("--neighbors", type=_neighbors, default="auto", metavar="auto|K",
                 help="add the distance to the K-th nearest normal row; 0: none (default: auto, 5 for "
                 "table rows and flat windows, none for images)"),
             opt("--code-density", action="store_true", help="add how unusual the code is"),
             opt("--anomaly-label", help="the label that marks anomalies (default: 1 for 0/1 labels)"),
         ]),
    Verb("denoise", "remove noise with a model trained on that damage; PSNR/SSIM against the damaged input "
         "and a classical filter", _restore, options=_RESTORE_OPTIONS),
    Verb("inpaint", "fill masked regions with a model trained on that damage; PSNR/SSIM against the damaged "
         "input and a classical filter", _restore, options=[
             *_RESTORE_OPTIONS,
             opt("--mask-mode", choices=["pixels", "patches", "features"]),
             opt("--patch-size", type=_positive_int),
         ]),
    Verb("colourise", "put colour back into greyscale images with a model trained on that damage; PSNR/SSIM "
         "against the damaged input", _restore, options=_RESTORE_OPTIONS),
    Verb("density", "importance-sampled log p(x), bits per dimension, and the uncertainty of each code",
         lambda a: _commands().density(**_with_data(a), k=a.k), options=[
             opt("--k", type=_positive_int, default=1000, help="importance samples (default: 1000)"),
         ]),
    Verb("watch", "score a live series row by row (CSV lines on stdin or a growing file): score, how "
         "unusual, alarm", _watch, data=False, model=False, options=[
             opt("--model", required=True,
                 help="a run folder from aekit train --window, or its model folder"),
             opt("--data", default="-", help="CSV with a header: - for stdin (default) or a file"),
             opt("--follow", action="store_true",
                 help="at the end of the file, wait for more rows (tail -f)"),
             opt("--normal-data", help="the healthy period's CSV, to calibrate the scores (default: the data "
                 "the run was trained on)"),
             opt("--out", help="where the score lines go (default: stdout)"),
             opt("--timestamp-column", help="default: 'timestamp' or 'time', else the first column"),
             opt("--history", type=_positive_int, default=2000,
                 help="recent scores that define normal (default: 2000)"),
             opt("--smoothing", type=_positive_int, default=10,
                 help="recent scores averaged before comparing (default: 10)"),
             opt("--alarm-level", type=float, default=0.9999,
                 help="how unusual (0-1) a row must be to raise an alarm (default: 0.9999)"),
             opt("--refit-every", type=_positive_int, metavar="ROWS",
                 help="continual learning: every ROWS rows, fine-tune a copy of the model in the "
                 "background on the recent rows that raised no alarm (default: never)"),
             opt("--refit-steps", type=_positive_int, default=200,
                 help="optimisation steps of each fine-tuning (default: 200)"),
             opt("--trust-code", action="store_true",
                 help="a model with its own networks: import their code"),
         ]),
    Verb("export", "write the model (and its anomaly detector) as ONNX graphs for onnxruntime, with a JSON "
         "of the preprocessing and threshold", _export, data=False, model=False, options=[
             opt("model_path", metavar="MODEL", help="a run folder or a model folder"),
             opt("--format", choices=["onnx"], default="onnx", help="(default: onnx)"),
             opt("--out", help="output folder (default: RUN/export for a run folder, else runs/export)"),
             opt("--normal-data", help="normal data that calibrates the detector (default: the data a run "
                 "was trained on; a model folder without it exports the encoder and decoder only)"),
             opt("--score", choices=["auto", "reconstruction", "relative", "log_likelihood"], default="auto",
                 help="the detector's score (as aekit detect)"),
             opt("--neighbors", type=_neighbors, default="auto", metavar="auto|K",
                 help="the detector's neighbour distance (as aekit detect)"),
             opt("--contamination", type=float, default=0.01, help="sets the threshold (as aekit detect)"),
             opt("--trust-code", action="store_true",
                 help="a model with its own networks: import their code"),
         ]),
    Verb("explore", "explore the latent space in the browser: the map of codes, one latent value at a "
         "time, paths between inputs, attribute vectors, your own inputs", _explore, model=False,
         data_default=None, options=[
             opt("model_path", metavar="RUN_OR_MODEL", help="a run folder or a model folder"),
             opt("--host", default="127.0.0.1",
                 help="address to listen on (default: 127.0.0.1, this machine only)"),
             opt("--port", type=_port, default=8765, help="(default: 8765; 0 picks a free one)"),
             opt("--open", action="store_true", help="open the page in the default web browser"),
             opt("--max-points", type=_map_points, help="inputs on the map, sampled (default: 2000)"),
             opt("--trust-code", action="store_true",
                 help="a model with its own networks: import their code"),
         ]),
    Verb("report", "write RUN/report.html with every figure and metric of a run",
         lambda a: _report(a.run_dir), data=False, model=False, options=[
             opt("run_dir", metavar="RUN", help="a run folder (from aekit train)"),
         ]),
]


def _report(run_dir):
    from .report import write_report

    return write_report(run_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aekit", description="Autoencoders made practical.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        p = verbs.add_parser(verb.name, help=verb.help, description=verb.help)
        if verb.model:
            p.add_argument("--model", required=True, help="a run folder (from aekit train) or a model folder")
            p.add_argument("--out", help=f"output folder (default: RUN/{verb.name} for a run folder, "
                                         f"else runs/{verb.name})")
            p.add_argument("--trust-code", action="store_true",
                           help="a model with its own networks: import the code that builds them "
                                "(only for models whose code you trust)")
        if verb.data:
            add_data_arguments(p, verb.data_default)
        if verb.name != "report":
            p.add_argument("--device", default="auto",
                           help="where to run: auto (a CUDA GPU, else Apple MPS, else the CPU), cpu, "
                                "cuda, cuda:N or mps (default: auto)")
        for flags, kwargs in verb.options:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(verb_entry=verb)
    return parser


def _error(exc: BaseException, prefix: str = "error") -> None:
    """One line on stderr, whatever the message's own line breaks."""
    print(f"aekit: {prefix}: " + " ".join(str(exc).split()), file=sys.stderr)


def _warn(message, category, filename, lineno, file=None, line=None):
    print("aekit: warning: " + " ".join(str(message).split()), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _warn
    # The verbs match table columns to the model by name themselves (commands.aligned) and then
    # pass arrays: scikit-learn's reminder that the array has no column names does not apply.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    verb: Verb = args.verb_entry
    from ._distributed import launched, lost_peer

    if launched() and verb.name != "train":
        _error(f"only train runs under torchrun (it trains one model on several processes); "
               f"run {verb.name} as a plain command")
        return EXIT_BAD_INPUT
    if verb.model and args.out is None:
        from .runs import RunFolder

        run = RunFolder.holding_model(args.model)
        args.out = str(run.verb_dir(verb.name) if run else Path("runs") / verb.name)
    try:
        summary = verb.call(args)
        if summary is not None:
            print(f"aekit: {args.verb}: wrote {summary.parent} ({summary.name})")
    except TrainingDivergedError as exc:
        _error(exc)
        return EXIT_DIVERGED
    except (AekitError, ValueError, OSError) as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("aekit: interrupted; a run with a checkpoint continues with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RecursionError) as exc:
        _error(f"{type(exc).__name__}: the request is too large for this machine; ask for less", "error")
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line, and the traceback on request
        if launched() and lost_peer(exc):
            _error("another process of this torchrun job stopped (its message says why), and this "
                   "one with it")
            return EXIT_BAD_INPUT
        if os.environ.get("AEKIT_TRACEBACK"):
            traceback.print_exc()
        _error(f"{type(exc).__name__}: {exc} (a bug in aekit; AEKIT_TRACEBACK=1 shows where)",
               "internal error")
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
