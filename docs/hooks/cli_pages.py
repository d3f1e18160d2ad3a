"""MkDocs hook: the command-line reference is made from aekit's own parser at build time (the
help of every verb, as ``aekit VERB --help`` prints it), so the page cannot drift from the code."""

from __future__ import annotations

import os

MARKER = "<!-- aekit-verbs -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    from aekit.cli import verb_parsers

    os.environ.setdefault("COLUMNS", "100")  # argparse wraps help to the terminal's width
    sections = []
    for name, parser in verb_parsers().items():
        sections.append(f"## aekit {name}\n\n{parser.description}\n\n```text\n{parser.format_help()}```\n")
    return markdown.replace(MARKER, "\n".join(sections))
