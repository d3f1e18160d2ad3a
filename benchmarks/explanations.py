"""Question: does an explanation name the column, channel or place an anomaly was injected into?

A detector trains on normal inputs; normal inputs it has never seen then get an anomaly in one
known place, and ``AnomalyDetector.explain`` names its top contributor. Reported: the share of
injected inputs whose top contributor (and whose top three) holds the injected place, per data
type; for tables also by the additive split's parts alone (what ``top`` ranked before it used
each column's score drop); beside a naive explanation: the column (channel) whose value lies
most standard deviations from its training mean.

* Tables (the 24 ADBench sets of ../shared/data; half of the normal rows train, as tabular.py
  splits them; the default ``AnomalyDetector()``, a VAE's -log p(x) plus the distance to the 5th
  nearest normal row): in each of 200 new normal rows, one column (of those that vary) is pushed
  ``SHIFT`` of its standard deviations up or down.
* Windows (three NAB series of ../shared/data as three channels, their probationary periods,
  each standardised; windows of 32, flat, an MLP VAE as `aekit train --window 32 --model vae
  --network mlp` trains): in each of 200 new windows, ``SPIKE_STEPS`` consecutive values of one
  channel are pushed ``SHIFT`` of that channel's standard deviations.
* Images (Fashion-MNIST T-shirts from its training file: 1,000 train, 200 others get the
  anomaly; the default detector, score "relative"): a 4x4 patch at a random place is made
  black where it was mostly light, white where it was mostly dark; the region the explanation
  names first (a 4x4 tile of the image's 7x7) must overlap the patch (``top1``); beside it, the
  brightest pixel of the contributions (``brightest_pixel``) and of their sums over every 4x4
  window (``top1_patch_sums``) must lie in it.

    python benchmarks/explanations.py [--quick] [--seeds N] [--kinds tables,windows,images]

With ``--kinds`` naming fewer than all three, the results are written as
``explanations_<kinds>`` (the full run's table stays as it was).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter

import aekit
from common import load_fashion_mnist, shared_data, write_result

SHIFT = 4.0
SPIKE_STEPS = 3
PATCH = 4
WINDOW = 32
N_INJECTED = 200
CHANNEL_SERIES = 3
MIN_NEW_WINDOWS = 100


def hits(explanation, truth, k: int, additive: bool = False) -> float:
    """The share of inputs whose top-``k`` contributors include the injected one (indices):
    as ``top`` ranks them, or (``additive``) by the exact split's parts."""
    ranked = explanation.per_name() if additive else explanation.blame()
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    return float((order == np.asarray(truth)[:, None]).any(1).mean())


def naive_hits(deviation: np.ndarray, truth) -> float:
    """The same for the naive explanation: the largest deviation from the training mean."""
    return float((deviation.argmax(1) == np.asarray(truth)).mean())


def vae(seed: int, quick: bool):
    """The model `aekit train --model vae` builds for tables, flat windows and images."""
    return aekit.VAE(network="mlp", verbose=0, random_state=seed, **({"epochs": 10} if quick else {}))


def tables(seeds: int, quick: bool):
    files = sorted(shared_data("adbench").glob("*.npz"))[:3 if quick else None]
    for path in files:
        data = np.load(path)
        X, y = data["X"].astype(np.float32), data["y"]
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            normal = rng.permutation(np.flatnonzero(y == 0))
            train, new = X[normal[: len(normal) // 2]], X[normal[len(normal) // 2:]]
            new = new[rng.choice(len(new), min(N_INJECTED, len(new)), replace=False)].copy()
            mean, std = train.mean(0), train.std(0)
            varying = np.flatnonzero(std > 0)
            columns = rng.choice(varying, size=len(new))
            new[np.arange(len(new)), columns] += SHIFT * std[columns] * rng.choice([-1, 1], size=len(new))
            model = vae(seed, quick)
            detector = aekit.AnomalyDetector(model, random_state=seed).fit(train)
            explanation = detector.explain(new)
            deviation = np.abs(new - mean) / np.where(std > 0, std, np.inf)
            yield "table", path.stem, seed, {"top1": hits(explanation, columns, 1),
                                             "top3": hits(explanation, columns, 3),
                                             "additive_top1": hits(explanation, columns, 1, additive=True),
                                             "naive_top1": naive_hits(deviation, columns),
                                             "columns": int(X.shape[1])}


def windows(seeds: int, quick: bool):
    files = sorted((shared_data("nab") / "data").rglob("*.csv"))
    groups = [files[i:i + CHANNEL_SERIES] for i in range(0, len(files) - CHANNEL_SERIES + 1, CHANNEL_SERIES)]
    for group in groups[:1 if quick else None]:
        healthy = [pd.read_csv(p)["value"].to_numpy(np.float64) for p in group]
        healthy = [v[: int(0.15 * len(v))] for v in healthy]
        n = min(len(v) for v in healthy)
        series = np.stack([v[:n] for v in healthy], axis=1)
        spread = np.where(series.std(0) > 0, series.std(0), 1)
        series = ((series - series.mean(0)) / spread).astype(np.float32)
        cut = int(0.7 * n)
        if cut < WINDOW + 100 or n - cut - 2 * WINDOW < MIN_NEW_WINDOWS:
            continue  # one of the three has too short a healthy period
        as_windows = lambda part: np.ascontiguousarray(
            np.lib.stride_tricks.sliding_window_view(part, WINDOW, axis=0))  # (n, channels, W)
        train, new = as_windows(series[:cut]), as_windows(series[cut + WINDOW:])
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            odd = new[rng.choice(len(new), min(N_INJECTED, len(new)), replace=len(new) < N_INJECTED)].copy()
            channels = rng.integers(CHANNEL_SERIES, size=len(odd))
            at = rng.integers(WINDOW - SPIKE_STEPS + 1, size=len(odd))
            sign = rng.choice([-1, 1], size=len(odd))
            for i in range(len(odd)):
                odd[i, channels[i], at[i]:at[i] + SPIKE_STEPS] += SHIFT * sign[i]
            model = vae(seed, quick)
            flat = lambda w: w.reshape(len(w), -1)
            detector = aekit.AnomalyDetector(model, random_state=seed).fit(flat(train))
            explanation = detector.explain(flat(odd), channels=CHANNEL_SERIES)
            deviation = np.abs(odd).max(axis=2)  # the series are standardised already
            name = " + ".join(p.stem for p in group)
            peak = explanation.per_time().argmax(1)  # when: the step that contributes most
            yield "window", name, seed, {"top1": hits(explanation, channels, 1),
                                         "naive_top1": naive_hits(deviation, channels),
                                         "when": float(((peak >= at) & (peak < at + SPIKE_STEPS)).mean())}


def images(seeds: int, quick: bool):
    X, y = load_fashion_mnist()[:2]
    shirts = X[y == 0]
    n_train = 300 if quick else 1000
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(shirts))
        train, odd = shirts[order[:n_train]], shirts[order[n_train:n_train + N_INJECTED]].copy()
        corners = rng.integers(0, 28 - PATCH + 1, size=(len(odd), 2))
        for image, (r, c) in zip(odd, corners, strict=True):  # dark where it was light, and vice versa
            patch = image[..., r:r + PATCH, c:c + PATCH]
            patch[...] = 0 if patch.mean() >= 128 else 255
        model = vae(seed, quick)
        detector = aekit.AnomalyDetector(model, random_state=seed).fit(train)
        explanation = detector.explain(odd)
        heat = explanation.contributions.reshape(len(odd), 28, 28)
        side = explanation.region
        tile = np.array(np.divmod(explanation.per_name().argmax(1), -(-28 // side))).T * side  # top-left
        overlaps = (tile < corners + PATCH) & (tile + side > corners)
        found = {"top1": float(overlaps.all(1).mean())}
        windows_summed = uniform_filter(heat, (1, PATCH, PATCH))
        for name, maps in (("brightest_pixel", heat), ("top1_patch_sums", windows_summed)):
            brightest = np.array([np.unravel_index(m.argmax(), m.shape) for m in maps])
            found[name] = float(((brightest >= corners) & (brightest < corners + PATCH)).all(1).mean())
        yield "image", "fashion-mnist class 0", seed, found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few sets, short fits")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--kinds", default="tables,windows,images", help="comma-separated: which data types")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    sources = {"tables": tables, "windows": windows, "images": images}
    per_case = []
    for source in (sources[kind] for kind in kinds):
        for kind, name, seed, found in source(args.seeds, args.quick):
            per_case.append({"kind": kind, "data": name, "seed": seed, **found})
            print(json.dumps(per_case[-1]), flush=True)
    frame = pd.DataFrame(per_case)
    rows = []
    for kind, group in frame.groupby("kind", sort=False):
        row = {"kind": kind, "cases": len(group)}
        for column in ("top1", "top3", "additive_top1", "naive_top1", "when", "brightest_pixel",
                       "top1_patch_sums"):
            if column in group and group[column].notna().any():
                row[f"mean_{column}"] = round(float(group[column].mean()), 4)
        row["cases_top1_below_0.9"] = int((group["top1"] < 0.9).sum())
        rows.append(row)
        print(row)
    name = "explanations" if set(kinds) == set(sources) else "explanations_" + "_".join(kinds)
    write_result(name, rows, quick=args.quick, seeds=args.seeds, shift=SHIFT, per_case=per_case)


if __name__ == "__main__":
    main()
