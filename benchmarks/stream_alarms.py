"""Question: does a stream raise the number of false alarms a day that was asked for?

For each NAB series of ../shared/data, a model trains on NAB's probationary period (windows of
32, stride 1; an MLP VAE on flat windows, `epochs="auto"`: `aekit watch`'s default temporal VAE
took minutes a series on this 2-core CPU, and the rate is the alarm policy's, which any model's
scores go through); a `StreamDetector` then watches
the rest of the series with ``false_alarm_rate`` set from the requested false alarms a day and
the series' rows a day (its median spacing), as `aekit watch --false-alarms-per-day F` does.
Realised: alarms outside NAB's labelled windows, per day of rows outside them; beside them, the
default alarm level's (0.9999) and how many labelled windows each setting alarms in.

Time order, drift and the healthy replay being the model's own training windows all break the
exchangeability a calibration assumes; this measures how far the rate holds anyway.

    python benchmarks/stream_alarms.py [--quick]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

import aekit
from common import shared_data, write_result
from nab import QUICK_SERIES, load_series, sliding
from nab_score import probation_rows

WINDOW = 32
PER_DAY = (1.0, 4.0)


def realised(alarm: np.ndarray, outside: np.ndarray, rows_per_day: float) -> float:
    """Alarms on rows outside the labelled windows, per day of such rows."""
    return float((alarm & outside).sum() / (outside.sum() / rows_per_day))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK_SERIES)} series, 5 epochs")
    args = parser.parse_args()
    nab = shared_data("nab")
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    names = QUICK_SERIES if args.quick else sorted(labels)
    per_series = []
    for name in names:
        values, windows = load_series(nab, name, labels[name])
        stamps = pd.to_datetime(pd.read_csv(nab / "data" / name)["timestamp"])
        rows_per_day = 86_400.0 / stamps.diff().dropna().median().total_seconds()
        probation = probation_rows(len(values))
        healthy, later = values[:probation, None], values[probation:, None]
        epochs = 5 if args.quick else "auto"
        model = aekit.VAE(network="mlp", verbose=0, random_state=0, epochs=epochs)
        model.fit(sliding(values[:probation], WINDOW))
        outside = np.ones(len(values), dtype=bool)
        for first, last in windows:
            outside[first:last + 1] = False
        outside = outside[probation:]
        line = {"series": name, "rows_per_day": round(rows_per_day, 1),
                "days_outside_windows": round(outside.sum() / rows_per_day, 1)}
        settings = {"alarm_level 0.9999": {}, **{f"{f:g} a day": {"false_alarm_rate": f / rows_per_day}
                                                 for f in PER_DAY}}
        for setting, kwargs in settings.items():
            stream = aekit.StreamDetector(model, healthy, **kwargs)
            stream.update_many(healthy[-(WINDOW - 1):, :])  # the first window: the probation's end
            alarm = stream.update_many(later)["alarm"]
            line[setting] = round(realised(alarm, outside, rows_per_day), 3)
            spans = [(max(0, a - probation), b + 1 - probation) for a, b in windows if b >= probation]
            line[f"{setting}: windows alarmed"] = sum(bool(alarm[a:b].any()) for a, b in spans)
        per_series.append(line)
        print(json.dumps(line), flush=True)
    frame = pd.DataFrame(per_series)
    rows = []
    for setting in ("alarm_level 0.9999", *[f"{f:g} a day" for f in PER_DAY]):
        asked = None if setting.startswith("alarm_level") else float(setting.split()[0])
        rows.append({"setting": setting, "asked_per_day": asked,
                     "median_realised_per_day": round(float(frame[setting].median()), 3),
                     "mean_realised_per_day": round(float(frame[setting].mean()), 3),
                     "series_above_2x": None if asked is None else
                     f"{int((frame[setting] > 2 * asked).sum())}/{len(frame)}",
                     "series_below_half": None if asked is None else
                     f"{int((frame[setting] < asked / 2).sum())}/{len(frame)}",
                     "windows_alarmed": int(frame[f"{setting}: windows alarmed"].sum())})
        print(rows[-1])
    write_result("stream_alarms", rows, quick=args.quick, window=WINDOW, per_series=per_series)


if __name__ == "__main__":
    main()
