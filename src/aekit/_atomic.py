"""Atomic writes: a killed process leaves the previous file or folder, never a torn one.

Temporary names carry the writer's PID (``.NAME.aekit-PID-RANDOM.tmp``), so a later write to the
same place can tell a temporary left by a killed process (its PID is gone) from one that a live
process is still writing, and removes only the former. Nothing else is ever deleted here:
callers decide whether a path may be replaced (``runs.check_ownable``,
``persistence.check_replaceable``).

A folder is replaced by swapping the new one with the old in one step (Linux's
``renameat2(RENAME_EXCHANGE)``), so that a complete version is at the path at every instant,
whenever the writer is killed. Where the system cannot swap, the old folder is moved aside
first; if the writer dies before the new one is in, the next write to the same place puts the
old one back before anything else (``remove_stale_temporaries``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
from pathlib import Path

from .errors import AekitError, OutputError

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE, DIR_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK  # what open() and mkdir() would give


def _temporary_name(target: Path, kind: str = "tmp") -> Path:
    return target.with_name(f".{target.name}.aekit-{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporaries of ``target`` whose writer is no longer running; return them.

    A folder moved aside by a writer that died before its replacement was in place (only where
    folders cannot be swapped in one step) is put back at ``target`` instead: it is the last
    complete version."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.aekit-(\d+)-[0-9a-f]+\.(tmp|old)$")
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            if match.group(2) == "old" and not (target.exists() or target.is_symlink()):
                with contextlib.suppress(OSError):
                    os.rename(entry, target)
                    continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed.append(entry)
    return removed


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _load_renameat2():
    with contextlib.suppress(OSError, AttributeError):
        function = ctypes.CDLL(None, use_errno=True).renameat2
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
        return function
    return None


_renameat2 = _load_renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap what ``a`` and ``b`` name in one atomic step; False where the system cannot (not
    Linux, an old C library, or a file system without it), leaving both as they were."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def safetensors_os_error(exc: Exception) -> OSError:
    """safetensors reports I/O failures as its own error, with "(os error N)" in the text."""
    found = re.search(r"os error (\d+)", str(exc))
    return OSError(int(found.group(1)), os.strerror(int(found.group(1)))) if found else OSError(str(exc))


def describe_os_error(exc: OSError, path) -> str:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EFBIG: "the file is larger than this system allows",
              errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only"}
    return f"cannot write {path}: {reason.get(exc.errno, exc.strerror or str(exc))}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it over ``path`` once the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temporary_name(path)
    try:
        tmp.touch(mode=0o600)
        yield tmp
        # Some writers (safetensors) create their own 0600 file: outputs are ordinary files.
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        if isinstance(exc, AekitError):
            raise
        raise OutputError(describe_os_error(exc, path)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder beside ``path`` that replaces ``path`` once the block succeeds.

    The caller must have checked that whatever is at ``path`` may be replaced: it is swapped
    with the new folder in one step (or, where the system cannot, moved aside just before), and
    deleted only once the new folder is in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp, old = _temporary_name(path), _temporary_name(path, "old")
    try:
        tmp.mkdir(mode=0o700)
        yield tmp
        for entry in tmp.rglob("*"):
            os.chmod(entry, DIR_MODE if entry.is_dir() else FILE_MODE)
            if entry.is_file():
                with open(entry, "rb") as f:
                    os.fsync(f.fileno())
        os.chmod(tmp, DIR_MODE)
        replaced = path.exists() or path.is_symlink()
        if not (replaced and exchange(tmp, path)):  # swapped: tmp now holds the old version
            if replaced:
                os.replace(path, old)
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        if isinstance(exc, AekitError):
            raise
        raise OutputError(describe_os_error(exc, path)) from exc
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.is_symlink() or tmp.exists():  # a link the swap moved here (callers refuse links)
            tmp.unlink()
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists() or old.is_symlink():
            old.unlink()
