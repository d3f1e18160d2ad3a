"""aekit report: RUN/report.html with every figure and metric of a run."""

from __future__ import annotations

from ..report import write_report
from .base import Verb, opt

VERB = Verb("report", "write RUN/report.html with every figure and metric of a run",
            lambda a: write_report(a.run_dir), data=False, model=False, options=[
                opt("run_dir", metavar="RUN", help="a run folder (from aekit train)"),
            ])
