"""A run is a folder: the model, ``metrics.json``, the figures, and each verb's outputs.

:class:`RunFolder` is the one place that knows the layout::

    .aekit                   marks a folder aekit made: aekit writes only into such folders
                             (or new, empty ones), so it never replaces a file of yours; the
                             process writing the run holds a lock on it (and its PID is inside)
    model/                   config.json + model.safetensors (aekit.load reads it)
    checkpoint.safetensors   the last epoch's training state (for --resume)
    tensorboard/             losses, learning rate, speed and reconstructions per epoch
                             (train --log tensorboard)
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

from ._atomic import FILE_MODE, atomic_dir
from ._jsonio import read_object
from .errors import InvalidInputError, OutputError

MARKER = ".aekit"


def _check_path_text(path) -> Path:
    if path is None or not str(path).strip():
        raise OutputError("the output path is empty: name a folder (e.g. --out runs/mine)")
    return Path(path)


def _marked_kind(path: Path) -> str | None:
    """The kind of aekit folder the marker says ``path`` is ("run", "output"), or None."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        with open(path / MARKER) as f:
            text = f.read(4096)
        # Empty only for the instant between a run's creating its marker and writing it.
        return json.loads(text).get("kind") if text else "run"
    return None


def check_ownable(path: Path, kind: str) -> None:
    """Raise :class:`OutputError` unless aekit may write a folder of ``kind`` at ``path``: nothing
    is there, an empty folder, or a folder aekit made as that kind (a run's folder is never taken
    for a verb's output folder, whose whole content a verb replaces)."""
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link: aekit writes only into real folders, never "
                          "through a link; give the folder it points to, or another --out")
    if not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder: choose another output folder")
    if not any(path.iterdir()):
        return
    found = _marked_kind(path)
    if found == kind:
        return
    if found is not None:
        named = {"run": "a run folder", "output": "a verb's output folder"}
        raise OutputError(f"{path} is {named.get(found, 'an aekit folder')}, not {named[kind]}: choose "
                          "another --out (a verb's outputs go in their own folder, by default RUN/<verb>)")
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
    tensorboard = property(lambda self: self.path / "tensorboard")

    def verb_dir(self, verb: str) -> Path:
        return self.path / verb

    def verb_summaries(self) -> list[Path]:
        """``<verb>/<verb>.json`` of every verb whose outputs are in this run, sorted."""
        return sorted(p for p in self.path.glob("*/*.json") if p.stem == p.parent.name)

    def subfolder(self, name: str) -> Path:
        """``path/name``, a folder aekit keeps inside the run (TensorBoard's logs): refused if
        it is a link or a file, so nothing outside the run is ever written or deleted through it."""
        folder = self.path / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            what = "a symbolic link" if folder.is_symlink() else "a file"
            raise OutputError(f"{folder} is {what}: aekit writes its {name} logs only into a real folder "
                              f"inside the run; move it away, or choose another --out")
        return folder

    def trained_on(self) -> tuple[str | None, dict]:
        """The data source and options this run was trained on (its ``metrics.json``); (None, {})
        before the run is complete. A damaged ``metrics.json`` is one error naming it."""
        if not self.metrics.is_file():
            return None, {}
        metrics = read_object(self.metrics)
        options = metrics.get("data_options")
        source = metrics.get("source")
        if not isinstance(source, str | None) or not isinstance(options, dict | None):
            raise InvalidInputError(f"{self.metrics} is not the metrics file aekit writes: its source or "
                                    "data_options is malformed")
        return source, options or {}

    def factor_evaluation(self, model_sha256: str) -> dict | None:
        """What ``aekit evaluate`` found about this run's model against known factors (the
        "disentanglement" of ``evaluate/evaluate.json``) if it evaluated this very model, else
        None. Links are not followed: they could lead out of the run."""
        path = self.verb_dir("evaluate") / "evaluate.json"
        if path.parent.is_symlink() or path.is_symlink() or not path.is_file():
            return None
        summary = read_object(path)
        found = summary.get("disentanglement")
        return found if summary.get("model_sha256") == model_sha256 and isinstance(found, dict) else None

    @staticmethod
    def holding_model(path) -> RunFolder | None:
        """The run folder at ``path`` if it holds a model (``path/model/config.json``)."""
        path = Path(path)
        return RunFolder(path) if (path / "model" / "config.json").is_file() else None

    @contextlib.contextmanager
    def writing(self):
        """Claim the folder for this process: create it (or check that aekit made it) and hold
        its lock until the block ends. A second process fails at once, naming the first."""
        check_ownable(self.path, "run")
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / MARKER, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.path}: {exc.strerror or exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(f"{self.path} is being written by "
                                  f"{_holder(fd, os.pread(fd, 4096, 0))}: wait for it to finish, "
                                  "or choose another --out") from None
            # Fixed width, written in place: a reader never sees the marker empty or torn.
            record = json.dumps({"kind": "run", "pid": f"{os.getpid():010d}"}).encode() + b"\n"
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
            try:
                yield self
            except BaseException:
                if created and [p.name for p in self.path.iterdir()] == [MARKER]:
                    with contextlib.suppress(OSError):  # nothing was written: leave no empty run behind
                        (self.path / MARKER).unlink()
                        self.path.rmdir()
                raise
        finally:
            os.close(fd)  # closing releases the lock


def _holder(fd: int, record: bytes) -> str:
    """Who holds the lock on the marker ``fd``: the kernel's lock table names the process
    (Linux's /proc/locks); the marker names the last aekit process that wrote the run."""
    written = None
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        written = int(json.loads(record).get("pid"))
    holders = _lock_holders(os.fstat(fd))
    if holders is None:  # no lock table to read: trust the marker
        return f"another aekit process (PID {written if written is not None else 'unknown'})"
    if written in holders:
        return f"another aekit process (PID {written})"
    named = ", ".join(map(str, sorted(holders))) or "unknown"
    return f"another process (PID {named}), which holds the lock on its marker {MARKER}"


def _lock_holders(stat) -> set[int] | None:
    """PIDs holding a flock on the file of ``stat``, from /proc/locks; None where unreadable."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = set()
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" ("->" marks a blocked waiter)
        if "->" not in fields and len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            with contextlib.suppress(ValueError):
                holders.add(int(fields[4]))
    return holders


@contextlib.contextmanager
def staged_output(out):
    """Yield a temporary folder that replaces ``out`` once the block succeeds (see module doc)."""
    out = _check_path_text(out)
    check_ownable(out, "output")
    with atomic_dir(out) as tmp:
        (tmp / MARKER).write_text(json.dumps({"kind": "output"}) + "\n")
        yield tmp
