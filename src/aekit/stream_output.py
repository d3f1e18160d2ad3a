"""A file that grows line by line (``aekit watch --out``), under aekit's output policy.

A stream's output cannot be written whole and then renamed into place, as every other output
is: a reader downstream follows it as it grows. What it keeps of the policy (docs/files.md):

* it creates a new file, or replaces one that aekit wrote as this kind of output (its first
  line is the stream's header); any other file is refused, and so are the command's own inputs
  and anything inside a model folder;
* it never writes through a link;
* the replacement is a new file renamed into place once its header is written, so a reader
  never sees a torn file, and the previous output stays whole until the new one starts.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ._atomic import FILE_MODE, _temporary_name, describe_os_error, remove_stale_temporaries
from ._jsonio import read_object
from .errors import InvalidInputError, OutputError
from .persistence import CONFIG, FORMAT


class StreamOutput:
    """Where a stream's lines go: standard output, or a file claimed by ``claim_stream_output``."""

    def __init__(self, path: Path | None, header: str):
        self.path, self.header = path, header

    @contextlib.contextmanager
    def open(self):
        """The open output, its header written; a file is in place from the first line on."""
        import sys

        if self.path is None:
            sys.stdout.write(self.header)
            sys.stdout.flush()
            yield sys.stdout
            return
        remove_stale_temporaries(self.path)
        tmp = _temporary_name(self.path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
            file = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(describe_os_error(exc, self.path)) from None
        with file:
            try:
                file.write(self.header)
                file.flush()
                os.replace(tmp, self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise OutputError(describe_os_error(exc, self.path)) from None
            yield file


def claim_stream_output(out, header: str, inputs=(), model=None, earlier_headers=()) -> StreamOutput:
    """Check that a stream may write ``out`` ("-" or None: standard output), before any work.

    ``inputs`` are the command's input paths and ``model`` its model or run folder: an output
    that is one of them, or lies inside a model folder, is refused. ``earlier_headers``: what
    earlier versions of the command wrote as their first line (their outputs are replaced too)."""
    if out is None or out == "-":
        return StreamOutput(None, header)
    if not str(out).strip():
        raise OutputError("--out is empty: name a file, or '-' for standard output")
    path = Path(out)
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link: aekit never writes through a link; name the file "
                          "itself, or a new one")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} is a folder, not a file: name the file to write")
    for given in inputs:
        if given and given != "-" and path.exists() and Path(given).exists() \
                and os.path.samefile(path, given):
            raise OutputError(f"{path} is this command's input: writing it would destroy it; choose "
                              "another --out")
    if model is not None and _inside(path, Path(model)) or _holds_a_model(path.parent):
        raise OutputError(f"{path} lies inside a model folder, which holds only aekit's model files: "
                          "choose another --out")
    if path.exists() and _first_line(path) not in (header, *earlier_headers):
        raise OutputError(f"{path} exists and is not an output aekit wrote (its first line is not "
                          f"{header.strip()!r}): aekit never replaces files it did not make; move it "
                          "away, or choose another --out")
    return StreamOutput(path, header)


def _inside(path: Path, folder: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        model = folder / "model" if (folder / "model" / CONFIG).exists() else folder
        return path.resolve().parent.is_relative_to(model.resolve())
    return False


def _holds_a_model(folder: Path) -> bool:
    with contextlib.suppress(InvalidInputError):
        return (folder / CONFIG).is_file() and read_object(folder / CONFIG).get("format") == FORMAT
    return False


def _first_line(path: Path) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as f:
        return f.readline(4096).decode("utf-8", "replace")
    return ""
