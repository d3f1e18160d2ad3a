"""aekit denoise, inpaint and colourise: damage clean data as in training, restore, compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from ..data.options import positive_int
from ..nn.corruption import MASK_MODES
from ..tasks.restore import restore_and_compare
from .base import Verb, opt, with_data
from .common import (
    load_with_data,
    save_array,
    write_summary,
    writes_folder,
)


@writes_folder
def restore(*, task, model, source, out, data_options=None, level=None, mask_mode=None,
            patch_size=None, n_show=10, limit=2000, device=None, trust_code=False) -> Path:
    """denoise / inpaint / colourise: damage clean data as in training, restore, compare."""
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    X = np.asarray(data.X[:limit])  # quality is a mean: a bounded sample keeps the filters quick
    result = restore_and_compare(estimator, X, task, level, mask_mode, patch_size)
    save_array(out / "restored.npy", result["restored"])
    rows = [X[:n_show], result["damaged"][:n_show], result["restored"][:n_show], result["classical"][:n_show]]
    damage_label = result["corruption"] if result["corruption"] == "greyscale" else \
        f"{result['corruption']} {result['level']:g}"
    labels = ["clean", damage_label, "restored", result["classical_name"]]
    if result["corruption"] == "greyscale":
        rows, labels = rows[:3], labels[:3]
    q = result["quality"]
    plots.rows_figure(rows, labels, f"{task}: PSNR {q['damaged']['psnr_db']:.1f} dB damaged, "
                      f"{q['restored']['psnr_db']:.1f} dB restored, {q['classical']['psnr_db']:.1f} dB "
                      f"{result['classical_name']}", out / f"{task}.png",
                      value_range=(float(X.min()), float(X.max())))
    return write_summary(out, f"{task}.json", {"data": data.name, "n": len(X),
                                               "corruption": result["corruption"],
                                          "level": result["level"], "classical": result["classical_name"],
                                          "quality": q, "figures": [f"{task}.png"]}, model)


def _run(args):
    return restore(task=args.verb, **with_data(args), level=args.level,
                   mask_mode=getattr(args, "mask_mode", None),
                   patch_size=getattr(args, "patch_size", None), n_show=args.n_show)


_OPTIONS = [
    opt("--level", type=float, help="damage strength (default: the model's training level)"),
    opt("--n-show", type=positive_int, default=10, help="examples in the figure"),
]
_AGAINST = "PSNR/SSIM against the damaged input"
VERBS = [
    Verb("denoise", f"remove noise with a model trained on that damage; {_AGAINST} and a classical filter",
         _run, options=_OPTIONS),
    Verb("inpaint",
         f"fill masked regions with a model trained on that damage; {_AGAINST} and a classical filter",
         _run, options=[*_OPTIONS, opt("--mask-mode", choices=list(MASK_MODES),
                                                   help="what is masked (default: as in training)"),
                        opt("--patch-size", type=positive_int,
                            help="side of masked patches (default: as in training)")]),
    Verb("colourise",
         f"put colour back into greyscale images with a model trained on that damage; {_AGAINST}",
         _run, options=_OPTIONS),
]
