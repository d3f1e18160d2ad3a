"""A run is a folder: the model, ``metrics.json``, the figures, and each verb's outputs.

:class:`RunFolder` is the one place that knows the layout::

    .aekit                   marks a folder aekit made: aekit writes only into such folders
                             (or new, empty ones), so it never replaces a file of yours; the
                             process writing the run holds a lock on it (and its PID is inside)
    model/                   config.json + model.safetensors (aekit.load reads it)
    checkpoint.safetensors   the last epoch's training state (for --resume)
    loss_curve.png  reconstructions.png  samples.png (variational models)  latent_map.png
    metrics.json             written last: its presence marks a complete run
    <verb>/                  each verb's files and <verb>.json, replaced as a whole
    report.html              every section above (aekit report)

A verb's folder is written into a temporary folder and renamed into place once everything in it
is written, so a failed or killed verb leaves the previous outputs, never a mixture.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from ._atomic import atomic_dir
from .errors import OutputError

MARKER = ".aekit"


def _check_path_text(path) -> Path:
    if path is None or not str(path).strip():
        raise OutputError("the output path is empty: name a folder (e.g. --out runs/mine)")
    return Path(path)


def check_ownable(path: Path) -> None:
    """Raise :class:`OutputError` unless aekit may write into ``path``: it does not exist, is an
    empty folder, or is a folder aekit made (it holds the marker)."""
    if not (path.exists() or path.is_symlink()):
        return
    if not path.is_dir() or path.is_symlink():
        raise OutputError(f"{path} is a file, not a folder: choose another output folder")
    if (path / MARKER).is_file() or not any(path.iterdir()):
        return
    raise OutputError(f"{path} holds files that aekit did not write: choose a new or empty "
                      "folder for aekit's outputs (aekit never replaces files it did not make)")


class RunFolder:
    """The layout of a run folder, and the right to write it."""

    def __init__(self, path):
        self.path = _check_path_text(path)

    model = property(lambda self: self.path / "model")
    metrics = property(lambda self: self.path / "metrics.json")
    checkpoint = property(lambda self: self.path / "checkpoint.safetensors")
    report = property(lambda self: self.path / "report.html")

    def verb_dir(self, verb: str) -> Path:
        return self.path / verb

    def verb_summaries(self) -> list[Path]:
        """``<verb>/<verb>.json`` of every verb whose outputs are in this run, sorted."""
        return sorted(p for p in self.path.glob("*/*.json") if p.stem == p.parent.name)

    @staticmethod
    def holding_model(path) -> RunFolder | None:
        """The run folder at ``path`` if it holds a model (``path/model/config.json``)."""
        path = Path(path)
        return RunFolder(path) if (path / "model" / "config.json").is_file() else None

    @contextlib.contextmanager
    def writing(self):
        """Claim the folder for this process: create it (or check that aekit made it) and hold
        its lock until the block ends. A second process fails at once, naming the first."""
        check_ownable(self.path)
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            marker = open(self.path / MARKER, "a+")  # noqa: SIM115 - locked for the whole block
        except OSError as exc:
            raise OutputError(f"cannot write to {self.path}: {exc.strerror or exc}") from exc
        try:
            try:
                fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                marker.seek(0)
                holder = _holder(marker.read())
                raise OutputError(f"{self.path} is being written by another aekit process (PID {holder}): "
                                  "wait for it to finish, or choose another --out") from None
            marker.seek(0)
            marker.truncate()
            marker.write(json.dumps({"kind": "run", "pid": os.getpid()}) + "\n")
            marker.flush()
            try:
                yield self
            except BaseException:
                if created and [p.name for p in self.path.iterdir()] == [MARKER]:
                    with contextlib.suppress(OSError):  # nothing was written: leave no empty run behind
                        (self.path / MARKER).unlink()
                        self.path.rmdir()
                raise
        finally:
            marker.close()  # closing releases the lock


def _holder(text: str) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(text).get("pid", "unknown"))
    return "unknown"


@contextlib.contextmanager
def staged_output(out):
    """Yield a temporary folder that replaces ``out`` once the block succeeds (see module doc)."""
    out = _check_path_text(out)
    check_ownable(out)
    with atomic_dir(out) as tmp:
        (tmp / MARKER).write_text(json.dumps({"kind": "output"}) + "\n")
        yield tmp
