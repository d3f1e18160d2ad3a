"""MkDocs hook: the command-line reference is made from aekit's own parser at build time, one
page per verb (its ``--help``, as ``aekit VERB --help`` prints it), so it cannot drift from the
code. ``mkdocs.yml``'s nav lists the pages; a verb missing there fails the strict build."""

from __future__ import annotations

import os

from mkdocs.structure.files import File

MARKER = "<!-- aekit-verbs -->"


def _parsers():
    from aekit.cli import verb_parsers

    os.environ.setdefault("COLUMNS", "100")  # argparse wraps help to the terminal's width
    return verb_parsers()


def on_files(files, config):
    for name, parser in _parsers().items():
        page = (f"# aekit {name}\n\n{parser.description}\n\n```text\n{parser.format_help()}```\n\n"
                "Made from the parser when this site was built. Exit status and conventions: "
                "[the command line](../cli.md).\n")
        files.append(File.generated(config, f"cli/{name}.md", content=page))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    rows = [f"| [`aekit {name}`](cli/{name}.md) | {parser.description} |"
            for name, parser in _parsers().items()]
    return markdown.replace(MARKER, "| verb | what it does |\n| --- | --- |\n" + "\n".join(rows))
