"""The ``aekit`` command: argument parsing only; each verb calls the Python API.

Bad input prints one line, ``aekit: error: ...``, and exits with status 2 (1 for a diverged
run); outputs are written atomically, ``metrics.json`` last, so a run folder with
``metrics.json`` is complete.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .errors import AekitError, InvalidInputError, TrainingDivergedError

MODELS = {"ae": "AutoEncoder", "dae": "DenoisingAutoEncoder", "vae": "VAE", "cvae": "ConditionalVAE"}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts, default=0) < 1:
        raise argparse.ArgumentTypeError(f"expected a side like 32 or HxW like 28x28, got {text!r}")
    return (parts[0], parts[-1])


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data and its options, shared by every verb that reads data (docs/data.md)."""
    g = parser.add_argument_group("data")
    g.add_argument("--data", default="digits",
                   help="built-in (digits, shapes, parabola, photos), named set (fashion-mnist, "
                        "mnist, kmnist) or path: image folder, .npy, .npz, IDX, .csv/.tsv/.parquet "
                        "(default: digits)")
    g.add_argument("--split", choices=["train", "test"], default="train", help="split of a named set")
    g.add_argument("--label-column", help="table column holding labels")
    g.add_argument("--id-column", help="table column holding ids, carried through to outputs")
    g.add_argument("--feature-columns", type=lambda t: t.split(","), help="comma-separated feature columns")
    g.add_argument("--missing", choices=["error", "drop", "impute"], default="error",
                   help="missing or non-numeric table cells: fail (default), drop rows, or impute the median")
    g.add_argument("--window", type=_positive_int, help="time series: window length in rows")
    g.add_argument("--stride", type=_positive_int, help="time series: rows between windows (window/4)")
    g.add_argument("--timestamp-column",
                   help="time series: the timestamp column (default: timestamp, time, or the first)")
    g.add_argument("--size", type=_size,
                   help="image side or HxW: resize an image folder; the size of shapes/photos")
    g.add_argument("--channels", type=int, choices=[1, 3], help="image folders: 1 greyscale, 3 RGB")
    g.add_argument("--skip-bad", action="store_true", help="image folders: skip unreadable images")
    g.add_argument("--n-samples", type=_positive_int, help="how many samples generated built-ins make")


def data_options(args) -> dict:
    return {"split": args.split, "label_column": args.label_column, "id_column": args.id_column,
            "feature_columns": args.feature_columns, "missing": args.missing, "window": args.window,
            "stride": args.stride, "timestamp_column": args.timestamp_column, "size": args.size,
            "channels": args.channels, "skip_bad": args.skip_bad, "n_samples": args.n_samples}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aekit", description="Autoencoders made practical.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = verbs.add_parser("train", help="train a model and write a run folder",
                         description="Train a model; write the model, metrics.json and figures to --out.")
    add_data_arguments(t)
    t.add_argument("--model", choices=MODELS, default="vae", help="preset (default: vae)")
    t.add_argument("--latent-dim", type=_positive_int, default=8, help="code size (default: 8)")
    t.add_argument("--epochs", type=_positive_int, default=100, help="maximum epochs (default: 100)")
    t.add_argument("--batch-size", type=_positive_int, default=64, help="(default: 64)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    t.add_argument("--network", choices=["auto", "mlp", "conv"], default="auto")
    t.add_argument("--likelihood", choices=["auto", "bernoulli", "gaussian", "gaussian_learned"],
                   default="auto")
    t.add_argument("--beta", type=float, default=1.0, help="KL weight (vae, cvae)")
    t.add_argument("--binarize", action="store_true",
                   help="dynamic binarisation: a fresh Bernoulli draw of every batch (vae, cvae)")
    t.add_argument("--corruption", choices=["gaussian", "salt_pepper", "mask", "greyscale"],
                   default="gaussian", help="what the denoising model sees (dae)")
    t.add_argument("--corruption-level", type=float, default=0.3,
                   help="noise std (gaussian), or fraction flipped (salt_pepper) or masked (mask)")
    t.add_argument("--mask-mode", choices=["pixels", "patches", "features"], default="pixels")
    t.add_argument("--patch-size", type=_positive_int, default=4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/train", help="run folder (default: runs/train)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the run folder's checkpoint after an interruption")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=_train)

    def verb(name, help_text, run, data=True):
        p = verbs.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--model", required=True, help="a run folder (from aekit train) or a model folder")
        p.add_argument("--out", help=f"output folder (default: RUN/{name} for a run folder, "
                                     f"else runs/{name})")
        if data:
            add_data_arguments(p)
        p.set_defaults(run=run)
        return p

    e = verb("encode", "write the codes of the data (with ids and labels) and a latent map", _encode)
    e.add_argument("--format", choices=["parquet", "csv", "npz", "npy"], default="parquet")
    e.add_argument("--projection", choices=["pca", "tsne"], default="pca", help="latent map of > 2-D codes")
    verb("evaluate", "codes against PCA: k-means NMI/ARI, kNN and logistic probes; the parabola curves",
         _evaluate)
    tr = verb("traverse", "decode sweeps of each latent dimension (-3..+3 standard deviations)", _traverse)
    tr.add_argument("--index", type=int, help="sweep around this sample of --data (default: the origin)")
    tr.add_argument("--dims", type=_int_list, help="comma-separated dimensions (default: the first 10)")
    tr.add_argument("--steps", type=_positive_int, default=9)
    tr.add_argument("--span", type=float, default=3.0, help="standard deviations each way (default: 3)")
    tr.add_argument("--label", help="class to decode with (conditional models)")
    ip = verb("interpolate", "decode the linear and spherical paths between two samples' codes", _interpolate)
    ip.add_argument("--pair", type=_int_list, default=[0, 1], help="two sample indices (default: 0,1)")
    ip.add_argument("--steps", type=_positive_int, default=10)
    ip.add_argument("--label", help="class to decode with (conditional models)")
    at = verb("attribute", "add an attribute vector (mean code of one group minus another's)", _attribute)
    at.add_argument("--group-a", help="label of the inputs that have the attribute")
    at.add_argument("--group-b", help="label of the inputs that lack it (and are shown changed)")
    at.add_argument("--factor", help="a generative factor instead (shapes: size, x, y, rotation)")
    at.add_argument("--strengths", type=lambda t: [float(v) for v in t.split(",")], default=[0, 0.5, 1, 1.5])
    sm = verb("sample", "generate: decode codes from the prior, or from a mixture fitted to data codes",
              _sample)
    sm.add_argument("--n", type=_positive_int, default=36, help="how many (default: 36)")
    sm.add_argument("--mixture", type=int, default=0, metavar="K",
                    help="fit a K-component Gaussian mixture to the codes of --data and sample it")
    dt = verb("detect", "score inputs, flag anomalies, and draw ROC/PR, heat maps or time-series plots",
              _detect)
    dt.add_argument("--normal-data", help="data known to be normal: sets the threshold (default: --data)")
    dt.add_argument("--contamination", type=float, default=0.01,
                    help="fraction of normal inputs above the threshold (default: 0.01)")
    dt.add_argument("--score", choices=["auto", "reconstruction", "relative", "elbo", "log_likelihood"],
                    default="auto", help="what makes an input anomalous (see docs/tasks.md; default: "
                    "'relative' for images, -log p(x) for VAEs of vectors, else 'reconstruction')")
    dt.add_argument("--code-density", action="store_true", help="add how unusual the code is")
    dt.add_argument("--anomaly-label", help="the label that marks anomalies (default: 1 for 0/1 labels)")
    for task, what in (("denoise", "remove noise"), ("inpaint", "fill masked regions"),
                       ("colourise", "put colour back into greyscale images")):
        r = verb(task, f"{what} with a model trained on that damage; PSNR/SSIM against the damaged input "
                       "and a classical filter", _restore)
        r.add_argument("--level", type=float, help="damage strength (default: the model's training level)")
        if task == "inpaint":
            r.add_argument("--mask-mode", choices=["pixels", "patches", "features"])
            r.add_argument("--patch-size", type=_positive_int)
        r.add_argument("--n-show", type=_positive_int, default=10, help="examples in the figure")
    rp = verbs.add_parser("report", help="write RUN/report.html with every figure and metric of a run",
                          description="Write RUN/report.html: the run's metrics and figures, and those of "
                                      "every verb whose output went into RUN/<verb>/.")
    rp.add_argument("run_dir", metavar="RUN", help="a run folder (from aekit train)")
    rp.set_defaults(run=_report)
    de = verb("density", "importance-sampled log p(x), bits per dimension, and the uncertainty of each code",
              _density)
    de.add_argument("--k", type=_positive_int, default=1000, help="importance samples (default: 1000)")
    return parser


def _report(args):
    from .report import write_report

    return write_report(args.run_dir)


def _density(args):
    from . import commands

    return commands.density(args.model, args.data, args.out, data_options(args), args.k)


def _restore(args):
    from . import commands

    return commands.restore(args.verb, args.model, args.data, args.out, data_options(args), args.level,
                            getattr(args, "mask_mode", None), getattr(args, "patch_size", None), args.n_show)


def _detect(args):
    from . import commands

    return commands.detect(args.model, args.data, args.out, data_options(args), args.normal_data,
                           args.contamination, args.score, args.code_density, args.anomaly_label)


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _encode(args):
    from . import commands

    return commands.encode(args.model, args.data, args.out, data_options(args), args.format, args.projection)


def _evaluate(args):
    from . import commands

    return commands.evaluate(args.model, args.data, args.out, data_options(args))


def _traverse(args):
    from . import commands

    index = args.index
    return commands.traverse(args.model, args.out, args.data if index is not None else None, index,
                             args.dims, args.steps, args.span, data_options(args), args.label)


def _interpolate(args):
    from . import commands

    if len(args.pair) != 2:
        raise InvalidInputError("--pair takes exactly two indices, e.g. --pair 3,17")
    return commands.interpolate(args.model, args.data, args.out, tuple(args.pair), args.steps,
                                data_options(args), args.label)


def _attribute(args):
    from . import commands

    return commands.attribute(args.model, args.data, args.out, args.group_a, args.group_b, args.factor,
                              tuple(args.strengths), data_options=data_options(args))


def _sample(args):
    from . import commands

    source = args.data if args.mixture else None
    return commands.sample(args.model, args.out, args.n, source, args.mixture, data_options(args))


def _train(args) -> None:
    from .runs import train_run

    params = {"latent_dim": args.latent_dim, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.lr, "network": args.network, "likelihood": args.likelihood,
              "random_state": args.seed, "verbose": 0 if args.quiet else 1}
    if args.model in ("vae", "cvae"):
        params.update(beta=args.beta, binarize=args.binarize)
    if args.model == "dae":
        params.update(corruption=args.corruption, corruption_level=args.corruption_level,
                      mask_mode=args.mask_mode, patch_size=args.patch_size)
    estimator = train_run(args.data, MODELS[args.model], params, args.out, resume=args.resume,
                          data_options=data_options(args))
    history = estimator.history_
    best = f", best validation loss {min(history['val_loss']):.4g}" if history["val_loss"] else ""
    print(f"aekit: trained {MODELS[args.model]} for {estimator.n_iter_} epochs "
          f"(final training loss {history['train_loss'][-1]:.4g}{best}); wrote {args.out}")


def _error(exc: BaseException) -> None:
    """One line on stderr, whatever the message's own line breaks."""
    print("aekit: error: " + " ".join(str(exc).split()), file=sys.stderr)


def _warn(message, category, filename, lineno, file=None, line=None):
    print("aekit: warning: " + " ".join(str(message).split()), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _warn
    if getattr(args, "model", None) and args.verb != "train" and args.out is None:
        run = Path(args.model)
        args.out = str(run / args.verb if (run / "model").is_dir() else Path("runs") / args.verb)
    try:
        summary = args.run(args)
        if summary is not None:
            print(f"aekit: {args.verb}: wrote {summary.parent} ({summary.name})")
    except TrainingDivergedError as exc:
        _error(exc)
        return 1
    except (AekitError, ValueError, OSError) as exc:
        _error(exc)
        return 2
    except KeyboardInterrupt:
        print("aekit: interrupted; a run with a checkpoint continues with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
