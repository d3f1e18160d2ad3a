"""``report.html`` for a run folder: every figure and metric, the run's and its verbs'.

The page links the PNGs by relative path, so the folder stays self-contained and can be zipped
or served as it is. Each section is one folder: the run itself (``metrics.json``) and each verb's
sub-folder (its ``<verb>.json`` summary, with the figures it lists).
"""

from __future__ import annotations

import html
from pathlib import Path

from ._atomic import write_text
from ._jsonio import read_object
from .errors import InvalidInputError
from .runs import RunFolder

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } figure { margin: 1rem 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85rem; } .muted { color: #777; }
"""


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return html.escape(f"{list(value[:12])} … ({len(value)} values)")
    return html.escape(str(value))


def _table(payload: dict) -> str:
    """Scalars as key/value rows; lists of records (e.g. representation rows) as their own tables."""
    rows, extra = [], []
    for key, value in payload.items():
        if key in ("figures", "history"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(value[0])
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{_format(r.get(c))}</td>" for c in columns) + "</tr>"
                           for r in value)
            extra.append(f"<h3>{html.escape(key)}</h3><table><tr>{head}</tr>{body}</table>")
        elif isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in value.values()):
            extra.append(f"<h3>{html.escape(key)}</h3>{_table(value)}")  # e.g. evaluate's disentanglement
        elif isinstance(value, dict):
            inner = "; ".join(f"{html.escape(str(k))}: {_format(v)}" for k, v in value.items())
            rows.append(f"<tr><th>{html.escape(key)}</th><td>{inner}</td></tr>")
        else:
            rows.append(f"<tr><th>{html.escape(key)}</th><td>{_format(value)}</td></tr>")
    return (f"<table>{''.join(rows)}</table>" if rows else "") + "".join(extra)


def _section(folder: Path, run: Path, summary_file: Path, payload: dict) -> str:
    title = "Training run" if summary_file.name == "metrics.json" else summary_file.stem
    figures = payload.get("figures") if isinstance(payload.get("figures"), list) else []
    parts = [f"<section><h2>{html.escape(title)}</h2>",
             f"<p class='muted'>{html.escape(str(folder.relative_to(run)) or '.')}/{summary_file.name}</p>",
             _table(payload)]
    for name in figures:
        if isinstance(name, str) and Path(name).name == name and (folder / name).is_file():
            src = (folder / name).relative_to(run).as_posix()
            parts.append(f"<figure><img src='{html.escape(src)}' alt='{html.escape(name)}'>"
                         f"<figcaption>{html.escape(src)}</figcaption></figure>")
    return "\n".join(parts) + "</section>"


def write_report(run) -> Path:
    """Write ``RUN/report.html`` from ``RUN/metrics.json`` and every verb sub-folder's summary.

    A verb's outputs are shown only if they were made with the run's current model (their
    summary records its checksum); outputs of a model trained earlier in the same folder are
    listed as stale instead.
    """
    folder = RunFolder(run)
    run = folder.path
    if not folder.metrics.is_file():
        raise InvalidInputError(f"{run} is not a complete run folder: metrics.json is missing "
                                "(train with `aekit train --out RUN` first)")
    metrics = read_object(folder.metrics)
    current = metrics.get("model_sha256")
    sections, stale = [_section(run, run, folder.metrics, metrics)], []
    for summary in folder.verb_summaries():
        payload = read_object(summary)
        if current is None or payload.get("model_sha256") != current:
            stale.append(summary.parent.name)
            continue
        sections.append(_section(summary.parent, run, summary, payload))
    what = f"{metrics.get('model')} on {metrics.get('data')}"
    earlier = html.escape(", ".join(stale))
    note = (f"<p class='muted'>Not shown: outputs made with an earlier model ({earlier});"
            " run those verbs again to see them.</p>") if stale else ""
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>aekit report: "
            f"{html.escape(run.name)}</title><style>{STYLE}</style></head><body>"
            f"<h1>aekit report: {html.escape(run.name)}</h1>"
            f"<p class='muted'>{html.escape(what)} · {len(sections)} section(s)</p>{note}"
            + "\n".join(sections) + "</body></html>")
    write_text(folder.report, page)
    return folder.report
