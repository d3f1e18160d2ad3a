"""Watching a live series: StreamDetector and `aekit watch`, row by row, never looking ahead."""

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import aekit
from aekit.data import load
from conftest import fast, interruptible

WINDOW = 8


def series(n=900, seed=0):
    rng = np.random.default_rng(seed)
    return (np.sin(np.arange(n) / 6) + 0.05 * rng.normal(size=n)).astype(np.float32)


def windows_of(values):
    return np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(values, WINDOW))


@pytest.fixture(scope="module")
def model():
    """An autoencoder of 8-row windows of a healthy sine."""
    return aekit.AutoEncoder(latent_dim=3, **fast(epochs=10)).fit(windows_of(series()[:600]))


def test_rows_one_at_a_time_score_as_the_batch_of_the_same_causal_windows(model, tmp_path):
    values = series()
    values[750:760] += 3.0  # an incident
    live = values[600:]
    stamps = pd.date_range("2026-01-01", periods=len(live), freq="min")
    pd.DataFrame({"timestamp": stamps, "value": live}).to_csv(tmp_path / "live.csv", index=False)

    one_by_one = aekit.StreamDetector(model, values[:600])
    rows = [one_by_one.update(v) for v in live]
    assert all(np.isnan(r["score"]) and not r["alarm"] for r in rows[:WINDOW - 1])  # the window fills
    scores = np.array([r["score"] for r in rows[WINDOW - 1:]])
    # The batch path: every window of the file, ending at row WINDOW - 1 onwards, stride 1.
    batch = load(tmp_path / "live.csv", window=WINDOW, stride=1)
    expected = one_by_one.detector_.anomaly_score(batch.X)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)

    together = aekit.StreamDetector(model, values[:600]).update_many(live)
    np.testing.assert_array_equal(together["score"][WINDOW - 1:], scores)
    np.testing.assert_array_equal(together["unusual"][WINDOW - 1:], [r["unusual"] for r in rows[WINDOW - 1:]])
    alarms = np.flatnonzero(together["alarm"]) + 600
    assert len(alarms) and alarms.min() >= 750 and alarms.min() < 760 + WINDOW
    # One alarm per episode, on its first row, whether rows come one at a time or together.
    np.testing.assert_array_equal(together["alarm"], [r["alarm"] for r in rows])
    # An episode starts at unusual >= 0.9999 and lasts until unusual falls to 0.5 (episode_end).
    expected, inside = [], False
    for u in together["unusual"]:
        expected.append(not inside and u >= 0.9999)
        inside = (inside and u > 0.5) or u >= 0.9999
    np.testing.assert_array_equal(together["alarm"], expected)
    assert (together["unusual"] >= 0.9999).sum() > together["alarm"].sum()  # later rows do not alarm again
    # surprise ranks what unusual cannot: rows whose unusual prints as 1 (6 digits) still differ
    saturated = np.array([f"{u:.6g}" == "1" for u in together["unusual"]])
    assert saturated.sum() >= 2 and len(np.unique(together["surprise"][saturated])) == saturated.sum()
    finite = ~np.isnan(together["surprise"])
    order = np.argsort(together["unusual"][finite], kind="stable")
    assert np.all(np.diff(together["surprise"][finite][order]) >= -1e-9)  # the same order, unsaturated


def test_a_false_alarm_rate_sets_the_alarm_level_from_the_healthy_period(model):
    """Asked for one false alarm per 1,000 rows, a long healthy stream raises about that many
    (episodes, not rows: the smoothed statistic stays high for several rows)."""
    healthy = series(600)
    for every in (500, 2000):
        detector = aekit.StreamDetector(model, healthy, false_alarm_rate=1 / every)
        alarms = sum(int(aekit.StreamDetector(model, healthy, false_alarm_rate=1 / every)
                         .update_many(series(20_000, seed=seed))["alarm"].sum()) for seed in (1, 2))
        assert 40_000 / every / 3 <= alarms <= 40_000 / every * 3, (every, alarms)
        assert detector.export_manifest()["alarm_z"] == detector.alarm_z_
    assert aekit.StreamDetector(model, healthy, false_alarm_rate=1e-3).alarm_z_ < \
        aekit.StreamDetector(model, healthy, false_alarm_rate=1e-5).alarm_z_
    with pytest.raises(aekit.InvalidInputError, match="false_alarm_rate"):
        aekit.StreamDetector(model, healthy, false_alarm_rate=2)


def test_a_row_never_depends_on_later_rows(model):
    values = series()
    changed = values.copy()
    changed[700:] += 5.0
    a = aekit.StreamDetector(model, values[:600]).update_many(values[600:])
    b = aekit.StreamDetector(model, values[:600]).update_many(changed[600:])
    for key in ("score", "unusual", "alarm"):
        np.testing.assert_array_equal(a[key][:100], b[key][:100])
    assert b["alarm"][100:].any()


def test_a_lasting_change_becomes_the_new_normal(model):
    values = series(2000)
    values[800:] += 0.8  # the machine runs warmer from row 800 on, for good
    watch = aekit.StreamDetector(model, values[:600], history=200)
    alarm = watch.update_many(values[600:])["alarm"]
    assert alarm[200:260].any()  # the change is noticed...
    assert not alarm[700:].any()  # ...and, some hundreds of rows later, no longer alarmed on


def test_unusual_is_a_probability_of_the_recent_scores(model):
    values = series()
    out = aekit.StreamDetector(model, values[:600], smoothing=1).update_many(values[600:])
    unusual = out["unusual"][WINDOW - 1:]
    assert ((unusual >= 0) & (unusual <= 1)).all()
    assert 0.2 < np.median(unusual) < 0.8  # healthy rows sit in the middle of their own distribution


def test_several_value_columns_and_temporal_models():
    rng = np.random.default_rng(0)
    t = np.arange(700)
    values = np.stack([np.sin(t / 6), np.cos(t / 9)], axis=1) + 0.05 * rng.normal(size=(700, 2))
    sequences = np.lib.stride_tricks.sliding_window_view(values[:500], WINDOW, axis=0)  # (n, 2, W)
    temporal = aekit.AutoEncoder(latent_dim=3, network="temporal", **fast()).fit(sequences)
    flat = aekit.AutoEncoder(latent_dim=3, **fast()).fit(sequences.reshape(len(sequences), -1))
    live = values[500:].copy()
    live[120:130, 1] += 3  # an incident in the second channel only
    for model in (temporal, flat):
        out = aekit.StreamDetector(model, values[:500], channel_names=["sin", "cos"]).update_many(live)
        assert np.isfinite(out["score"][WINDOW - 1:]).all()
        alarms = np.flatnonzero(out["alarm"])
        assert len(alarms) and 120 <= alarms[0] < 130 + WINDOW
        assert out["channel"][alarms[0]] == "cos" and out["channel_share"][alarms[0]] > 0.5
        quiet = ~out["alarm"]
        assert (out["channel"][quiet] == "").all() and np.isnan(out["channel_share"][quiet]).all()
    with pytest.raises(aekit.InvalidInputError, match="2 channel"):
        aekit.StreamDetector(temporal, values[:500, 0])
    with pytest.raises(aekit.InvalidInputError, match="expected rows of 2 value column"):
        aekit.StreamDetector(flat, values[:500]).update_many(values[500:, :1])


@pytest.mark.parametrize("kwargs, match", [
    ({"history": 1}, "history must be an integer >= 2"),
    ({"alarm_level": 1.5}, "alarm_level must be in"),
    ({"refit_every": 0}, "refit_every must be None or an integer >= 1"),
    ({"refit_every": 2.5}, "refit_every must be None or an integer >= 1"),
    ({"refit_steps": 0}, "refit_steps must be an integer >= 1"),
])
def test_stream_parameters_are_checked(model, kwargs, match):
    with pytest.raises(aekit.InvalidInputError, match=match):
        aekit.StreamDetector(model, series()[:600], **kwargs)


def test_the_healthy_period_must_fill_a_window(model):
    with pytest.raises(aekit.InvalidInputError, match="at least 9 are needed"):
        aekit.StreamDetector(model, series()[:WINDOW])


def test_continual_learning_gives_the_same_numbers_one_row_at_a_time_or_in_blocks(model):
    values = series(1400)
    values[1000:1010] += 1.5
    kwargs = {"history": 300, "refit_every": 150, "refit_steps": 20}
    with aekit.StreamDetector(model, values[:600], **kwargs) as one_by_one:
        rows = [one_by_one.update(v) for v in values[600:]]
    with aekit.StreamDetector(model, values[:600], **kwargs) as together:
        block = together.update_many(values[600:])
    for key in ("score", "unusual", "alarm"):
        np.testing.assert_array_equal(block[key], [r[key] for r in rows])
    # Each copy takes over refit_every rows after it started, once enough rows were seen.
    assert [r["row"] for r in together.refits_] == [300, 450, 600, 750]
    assert together.refits_ == [{**r, "seconds": s["seconds"]} for r, s in zip(one_by_one.refits_,
                                                                               together.refits_, strict=True)]
    assert together.model is not model and one_by_one.model is not model  # the copies, not the original
    assert np.flatnonzero(block["alarm"]).min() + 600 in range(1000, 1010 + WINDOW)  # still alarms


def test_continual_learning_follows_a_new_normal_and_skips_alarmed_rows(model):
    values = series(2400)
    values[800:] = 1.3 * values[800:] + 0.3  # the machine's normal changes for good at row 800
    values[2150:2155] += 2.0  # and an incident later on
    live = values[600:]
    kept = aekit.StreamDetector(model, values[:600], history=300).update_many(live)
    with aekit.StreamDetector(model, values[:600], history=300, refit_every=200, refit_steps=100) as tuned:
        out = tuned.update_many(live)
    late = slice(1200, 1500)  # the new normal, well after the change, before the incident
    assert np.median(out["score"][late]) < np.median(kept["score"][late])  # it has learned it
    incident = np.flatnonzero(out["alarm"]) + 600
    assert any(2150 <= row < 2155 + WINDOW for row in incident)  # and still sees what is wrong
    assert not any(900 <= row < 2150 for row in incident)  # the seven swaps in between raise no alarm
    # The copy that starts after the incident is not tuned on the windows that hold it.
    after = [r for r in tuned.refits_ if r["row"] == 1800]
    assert after and after[0]["windows"] < 300


def test_a_failed_or_closed_fine_tuning_leaves_the_model_watching(model, monkeypatch):
    values = series(1000)
    with aekit.StreamDetector(model, values[:600], refit_every=150, refit_steps=10**6) as watch:
        watch.update_many(values[600:750])  # a fine-tuning of a million steps starts...
        running = watch._refit.future
        watch.close()  # ...and stops at its next epoch
    assert isinstance(running.exception(timeout=60), Exception) and watch.refits_ == []
    assert watch.model is model

    def broken(self, *args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(aekit.AutoEncoder, "fine_tune", broken)
    with aekit.StreamDetector(model, values[:600], refit_every=150) as watch:
        with pytest.warns(UserWarning, match="row 300 failed \\(out of memory\\); the current model goes on"):
            out = watch.update_many(values[600:])
    assert watch.refits_ == [] and watch.model is model and np.isfinite(out["score"][WINDOW:]).all()


def _trained_run(tmp_path, frame: pd.DataFrame, epochs: int):
    """``tmp_path`` holding healthy.csv (the first 700 rows of ``frame``), live.csv (the rest)
    and run/, trained by `aekit train --window` on healthy.csv."""
    frame[:700].to_csv(tmp_path / "healthy.csv", index=False)
    frame[700:].to_csv(tmp_path / "live.csv", index=False)
    subprocess.run([sys.executable, "-m", "aekit", "train", "--model", "ae",
                    "--data", str(tmp_path / "healthy.csv"), "--window", str(WINDOW), "--stride", "1",
                    "--epochs", str(epochs), "--quiet", "--out", str(tmp_path / "run")],
                   check=True, capture_output=True, timeout=300)
    return tmp_path


@pytest.fixture(scope="module")
def healthy_run(tmp_path_factory):
    """A run trained on a healthy CSV, and a live CSV with an incident."""
    values = series(1200)
    values[1000:1010] += 3.0
    stamps = pd.date_range("2026-01-01", periods=len(values), freq="min")
    frame = pd.DataFrame({"timestamp": stamps.astype(str), "value": values})
    return _trained_run(tmp_path_factory.mktemp("watch"), frame, epochs=20)


def test_watch_reads_stdin_and_writes_one_line_per_row(healthy_run):
    live = (healthy_run / "live.csv").read_text().splitlines()
    fed = "\n".join([live[0], "2026-01-01 12:00:00,not-a-number", *live[1:]]) + "\n"
    done = subprocess.run([sys.executable, "-m", "aekit", "watch", "--model", str(healthy_run / "run")],
                          input=fed, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "line 2: a value is not a number; skipped" in done.stderr
    out = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert list(out.columns) == ["timestamp", "score", "unusual", "surprise", "alarm", "channel",
                                 "channel_share"]
    assert len(out) == len(live) - 1
    assert out["timestamp"].tolist() == [line.split(",")[0] for line in live[1:]]
    assert out["score"][:WINDOW - 1].isna().all() and out["score"][WINDOW - 1:].notna().all()
    alarmed = np.flatnonzero(out["alarm"].to_numpy()) + 700
    assert len(alarmed) and 1000 <= alarmed.min() < 1010 + WINDOW
    # the alarm names its channel (the only one here); other rows name none
    assert (out["channel"].notna() == out["alarm"].astype(bool)).all()
    assert (out["channel"].dropna() == "value").all() and (out["channel_share"].dropna() == 1).all()


def test_watch_follows_a_growing_file_until_interrupted(healthy_run):
    live = (healthy_run / "live.csv").read_text().splitlines(keepends=True)
    growing = healthy_run / "growing.csv"
    growing.write_text("".join(live[:101]))
    watcher = subprocess.Popen([sys.executable, "-m", "aekit", "watch", "--model", str(healthy_run / "run"),
                                "--data", str(growing), "--follow", "--out", str(healthy_run / "scores.csv")],
                               stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        def lines_out():
            path = healthy_run / "scores.csv"
            return len(path.read_text().splitlines()) if path.exists() else 0

        deadline = time.monotonic() + 120
        while lines_out() < 101 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lines_out() == 101  # the header and the first 100 rows, scored as they came
        with growing.open("a") as f:
            f.write("".join(live[101:151]))
        while lines_out() < 151 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lines_out() == 151
    finally:
        watcher.send_signal(signal.SIGINT)
        _, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0 and "stopped" in stderr


def test_watch_fine_tunes_in_the_background_and_says_so(healthy_run):
    live = (healthy_run / "live.csv").read_text()
    done = subprocess.run([sys.executable, "-m", "aekit", "watch", "--model", str(healthy_run / "run"),
                           "--refit-every", "150", "--refit-steps", "20"],
                          input=live, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "row 300: a copy fine-tuned on 143 healthy windows took over" in done.stderr
    assert len(pd.read_csv(pd.io.common.StringIO(done.stdout))) == len(live.splitlines()) - 1


@pytest.fixture
def watch_cli(capsys, tmp_path):
    """`aekit watch` run in this process (fast: torch is loaded once), ``input`` given as a
    file: what it prints and its exit status, as a finished subprocess would give them.
    (Standard input is read by the same code: test_watch_reads_stdin_... feeds it for real.)"""
    from types import SimpleNamespace

    from aekit.cli import main

    def run(model, *args, input=None):
        if input is not None:
            path = tmp_path / f"input-{len(list(tmp_path.glob('input-*')))}.csv"
            path.write_text(input)
            args = ("--data", str(path), *args)
        capsys.readouterr()
        code = main(["watch", "--model", str(model), *map(str, args)])
        printed = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=printed.out, stderr=printed.err)

    return run


def test_watch_refuses_a_stream_that_lacks_the_models_column_and_ignores_extra_ones(healthy_run,
                                                                                    watch_cli):
    live = pd.read_csv(healthy_run / "live.csv")
    done = watch_cli(healthy_run / "run", input=live.rename(columns={"value": "other"}).to_csv(index=False))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "the model watches the column(s) ['value']; the header lacks ['value']" in done.stderr
    plain = watch_cli(healthy_run / "run", input=live.to_csv(index=False))
    wide = watch_cli(healthy_run / "run", input=live.assign(other=1.0)[["other", "timestamp", "value"]]
                  .to_csv(index=False))
    assert wide.returncode == 0 and "column(s) ['other'] are not among the model's ['value']: ignored" \
        in wide.stderr
    assert wide.stdout == plain.stdout


@pytest.fixture(scope="module")
def two_channel_run(tmp_path_factory):
    """A run of windows over two value columns that differ (so their order matters)."""
    frame = pd.DataFrame({"timestamp": np.arange(1000), "v1": series(1000),
                          "v2": 3 * np.cos(np.arange(1000) / 9)})
    return _trained_run(tmp_path_factory.mktemp("watch2"), frame, epochs=5)


def test_watch_matches_value_columns_by_name_not_position(two_channel_run, watch_cli):
    live = pd.read_csv(two_channel_run / "live.csv")
    in_order = watch_cli(two_channel_run / "run", input=live.to_csv(index=False))
    swapped = watch_cli(two_channel_run / "run", input=live[["timestamp", "v2", "v1"]].to_csv(index=False))
    assert in_order.returncode == 0 and swapped.returncode == 0, swapped.stderr
    assert swapped.stdout == in_order.stdout
    assert len(pd.read_csv(pd.io.common.StringIO(in_order.stdout))) == len(live)
    # A model folder alone names no columns: the healthy data's header does, and the stream is
    # matched to it by name.
    model = two_channel_run / "run" / "model"
    folder = watch_cli(model, "--normal-data", str(two_channel_run / "healthy.csv"),
                    input=live[["v2", "timestamp", "v1"]].to_csv(index=False))
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout == in_order.stdout
    repeated = watch_cli(two_channel_run / "run", input="timestamp,v1,v1\n0,1,2\n")
    assert repeated.returncode == 2 and "names the column(s) ['v1'] more than once" in repeated.stderr


def test_an_unclosed_quote_loses_only_its_own_line(healthy_run, watch_cli):
    live = (healthy_run / "live.csv").read_text().splitlines()
    fed = "\n".join([live[0], live[1], f'{live[2].split(",")[0]},"0.5', *live[3:30]]) + "\n"
    done = watch_cli(healthy_run / "run", input=fed)
    assert done.returncode == 0, done.stderr
    assert "line 3: a quoted field is not closed on its line; skipped" in done.stderr
    out = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert out["timestamp"].tolist() == [line.split(",")[0] for line in [live[1], *live[3:30]]]
    quoted = "\n".join([live[0], *(f'"{a}","{b}"' for a, b in (line.split(",") for line in live[1:30]))])
    done = watch_cli(healthy_run / "run", input=quoted + "\n")
    assert done.returncode == 0 and len(pd.read_csv(pd.io.common.StringIO(done.stdout))) == 29


def test_an_oversized_line_is_skipped_and_the_watch_goes_on(healthy_run, watch_cli):
    live = (healthy_run / "live.csv").read_text().splitlines()
    huge = f'{live[1].split(",")[0]},"0.5{" " * (200 << 10)}"'  # a field over csv's 128 KB limit
    giant = "x" * (3 << 20)  # over MAX_LINE_BYTES
    fed = "\n".join([live[0], live[1], huge, giant, *live[2:40]]) + "\n"
    done = watch_cli(healthy_run / "run", input=fed)
    assert done.returncode == 0, done.stderr
    assert "line 3" not in done.stderr
    assert "line 4: longer than 1,048,576 bytes; skipped" in done.stderr
    out = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert len(out) == 39 + 1  # the 200 KB value is a number, read as 0.5; the 3 MB line is not


def test_lines_are_buffered_in_linear_memory(tmp_path):
    from aekit.verbs.watch import _TOO_LONG, _Lines

    path = tmp_path / "one_line.csv"
    path.write_bytes(b"a,b\n" + b"7" * (8 << 20) + b"\n1,2\n" + b"3," + b"4" * (2 << 20))
    with _Lines(str(path), follow=False, poll_seconds=0.1, say=print) as lines:
        got = [item for block in lines.blocks() for item in block]
        assert lines._size == 0 and lines._pieces == []  # nothing of a dropped line kept
    assert got == [(1, "a,b"), (2, _TOO_LONG), (3, "1,2"), (4, _TOO_LONG)]


def _wait_lines(path, n, deadline):
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return len(path.read_text().splitlines())
        time.sleep(0.2)
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("rotation", ["move", "truncate"])
def test_follow_goes_on_after_log_rotation(healthy_run, tmp_path, rotation):
    live = (healthy_run / "live.csv").read_text().splitlines(keepends=True)
    log, scores = tmp_path / "metrics.log", tmp_path / "scores.csv"
    log.write_text("".join(live[:51]))
    watcher = subprocess.Popen([sys.executable, "-m", "aekit", "watch", "--model", str(healthy_run / "run"),
                                "--data", str(log), "--follow", "--out", str(scores)],
                               stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 120
        assert _wait_lines(scores, 51, deadline) == 51
        if rotation == "move":
            log.rename(tmp_path / "metrics.log.1")
            log.write_text("".join([live[0], *live[51:81]]))  # the new file starts with the header
        else:
            with open(log, "r+") as f:
                f.truncate(0)
            log.write_text("".join([live[0], *live[51:61]]))
        expected = 81 if rotation == "move" else 61
        assert _wait_lines(scores, expected, deadline) == expected
    finally:
        watcher.send_signal(signal.SIGINT)
        _, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, stderr
    assert ("was replaced by a new file" if rotation == "move" else "was truncated") in stderr
    out = pd.read_csv(scores)
    assert out["timestamp"].tolist() == [line.split(",")[0] for line in live[1:expected]]


def test_watch_out_replaces_only_its_own_output(healthy_run, tmp_path, watch_cli):
    run = healthy_run / "run"
    live = healthy_run / "live.csv"
    before = live.read_bytes()
    same = watch_cli(run, "--data", str(live), "--out", str(live))
    assert same.returncode == 2 and "is this command's input" in same.stderr and live.read_bytes() == before
    config = run / "model" / "config.json"
    saved = config.read_bytes()
    inside = watch_cli(run, "--data", str(live), "--out", str(config))
    assert inside.returncode == 2 and config.read_bytes() == saved
    assert watch_cli(run, "--data", str(live), "--out", str(run / "model" / "alarms.csv")).returncode == 2
    assert not (run / "model" / "alarms.csv").exists()
    aekit.load(run / "model")
    mine = tmp_path / "notes.csv"
    mine.write_text("my,own\n1,2\n")
    refused = watch_cli(run, "--data", str(live), "--out", str(mine))
    assert refused.returncode == 2 and "not an output aekit wrote" in refused.stderr
    assert mine.read_text() == "my,own\n1,2\n"
    link = tmp_path / "link.csv"
    link.symlink_to(mine)
    assert watch_cli(run, "--data", str(live), "--out", str(link)).returncode == 2
    assert mine.read_text() == "my,own\n1,2\n"
    out = tmp_path / "scores.csv"
    out.write_text("timestamp,score,unusual,alarm\n1,0.5,0.1,0\n")  # an earlier aekit's output: replaced
    first = watch_cli(run, "--data", str(live), "--out", str(out))
    again = watch_cli(run, "--data", str(live), "--out", str(out))  # its own output: replaced
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert len(pd.read_csv(out)) == len(pd.read_csv(live))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_watch_takes_a_false_alarm_rate_per_day_or_per_rows(healthy_run, two_channel_run, watch_cli):
    """Rows a minute apart make 1,440 a day: one false alarm a day is one per 1,440 rows, the
    same level as --false-alarm-every 1440; timestamps that are not dates cannot count days."""
    live = (healthy_run / "live.csv").read_text()
    per_day = watch_cli(healthy_run / "run", "--false-alarms-per-day", "1", input=live)
    assert per_day.returncode == 0, per_day.stderr
    assert "1,440 rows a day" in per_day.stderr and "one per 1,440 rows" in per_day.stderr
    assert watch_cli(healthy_run / "run", "--false-alarm-every", "1440", input=live).stdout == per_day.stdout
    both = watch_cli(healthy_run / "run", "--false-alarms-per-day", "1", "--false-alarm-every", "9",
                     input=live)
    assert both.returncode == 2 and "not both" in both.stderr
    numbered = watch_cli(two_channel_run / "run", "--false-alarms-per-day", "2",
                         input=(two_channel_run / "live.csv").read_text())
    assert numbered.returncode == 2 and "use --false-alarm-every ROWS instead" in numbered.stderr
    too_many = watch_cli(healthy_run / "run", "--false-alarms-per-day", "5000", input=live)
    assert too_many.returncode == 2 and "ask for fewer than 720 a day" in too_many.stderr
    every_row = watch_cli(healthy_run / "run", "--false-alarm-every", "1", input=live)
    assert every_row.returncode == 2 and "at least 2 rows" in every_row.stderr
    with pytest.raises(SystemExit) as refused:  # argparse's own exit
        watch_cli(healthy_run / "run", "--false-alarms-per-day", "0", input=live)
    assert refused.value.code == 2


def test_watch_takes_the_context_view_and_episode_end(healthy_run, watch_cli):
    """--context none --episode-end 0.9999 is the model's view alone, an episode ending below
    the level: the same lines as StreamDetector with those settings."""
    live = pd.read_csv(healthy_run / "live.csv")
    plain = watch_cli(healthy_run / "run", "--context", "none", "--episode-end", "0.9999",
                      input=live.to_csv(index=False))
    assert plain.returncode == 0, plain.stderr
    model = aekit.load(healthy_run / "run" / "model")
    healthy = pd.read_csv(healthy_run / "healthy.csv")["value"].to_numpy()
    expected = aekit.StreamDetector(model, healthy, context=None, episode_end=0.9999).update_many(
        live["value"].to_numpy())
    got = pd.read_csv(pd.io.common.StringIO(plain.stdout))
    np.testing.assert_array_equal(got["alarm"].to_numpy(), expected["alarm"].astype(int))
    default = watch_cli(healthy_run / "run", input=live.to_csv(index=False))
    assert default.stdout != plain.stdout  # the context view is on by default
    wrong = watch_cli(healthy_run / "run", "--episode-end", "1.5", input=live.to_csv(index=False))
    assert wrong.returncode == 2 and "--episode-end must be above 0 and at most --alarm-level" in wrong.stderr
    with pytest.raises(SystemExit) as refused:
        watch_cli(healthy_run / "run", "--context", "0", input=live.to_csv(index=False))
    assert refused.value.code == 2


def test_watch_takes_the_newest_rows_it_scores(healthy_run, watch_cli):
    """--newest-rows N scores each window by its N newest rows, --newest-rows all by the whole
    window: the same scores as StreamDetector with those settings; the default is a sixth."""
    live = pd.read_csv(healthy_run / "live.csv")
    model = aekit.load(healthy_run / "run" / "model")
    healthy = pd.read_csv(healthy_run / "healthy.csv")["value"].to_numpy()
    for option, newest in [("3", 3), ("all", None)]:
        run = watch_cli(healthy_run / "run", "--newest-rows", option, input=live.to_csv(index=False))
        assert run.returncode == 0, run.stderr
        watch = aekit.StreamDetector(model, healthy, newest_rows=newest)
        expected = watch.update_many(live["value"].to_numpy())
        got = pd.read_csv(pd.io.common.StringIO(run.stdout))
        np.testing.assert_allclose(got["score"].to_numpy(), expected["score"], rtol=1e-5, equal_nan=True)
    default = aekit.StreamDetector(model, healthy)
    assert default.newest_rows_ == model.input_shape_[-1] // 6
    with pytest.raises(SystemExit) as refused:
        watch_cli(healthy_run / "run", "--newest-rows", "0", input=live.to_csv(index=False))
    assert refused.value.code == 2
