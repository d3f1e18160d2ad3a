"""The ``aekit`` command: argument parsing only. Each verb is a module of ``aekit.verbs``
that declares its options and the Python function its parsed arguments call.

Exit status: 0 done; 1 training diverged; 2 bad input, a bad file or an output that cannot
be written (one line, ``aekit: error: ...``); 3 an internal error (a bug:
one line, and the traceback with ``AEKIT_TRACEBACK=1``); 130 interrupted. Outputs are written
atomically, each verb's summary last, so a folder with its summary is complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path

from .data.options import add_arguments as add_data_arguments
from .errors import AekitError, TrainingDivergedError
from .verbs import VERBS, Verb

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it already says it (or has none)."""

    def _get_help_string(self, action) -> str:
        help_text = action.help or ""
        if (action.option_strings and "default" not in help_text
                and action.default not in (None, False, argparse.SUPPRESS)):
            help_text += " (default: %(default)s)"
        return help_text.strip()


def _version() -> str:
    """What a bug report needs: aekit's version and the torch and Python it runs with."""
    import platform

    import torch

    from . import __version__

    return f"aekit {__version__} (torch {torch.__version__}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    return _parsers()[0]


def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each verb's own parser (what ``aekit VERB --help`` prints; the site's CLI pages)."""
    return _parsers()[1]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="aekit", description="Autoencoders made practical.")
    parser.add_argument("--version", action="version", version=_version())
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    by_name = {}
    for verb in VERBS:
        p = by_name[verb.name] = verbs.add_parser(verb.name, help=verb.help, description=verb.help,
                                                  formatter_class=_HelpWithDefaults)
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
    return parser, by_name


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
