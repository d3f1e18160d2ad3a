"""Files converted once into a form that streams (``.npy``), kept in aekit's cache.

Compressed IDX, CSV and Parquet tables cannot be read a row at a time at random, so a streamed
run first converts them, one chunk at a time, to ``.npy`` files in
``<cache>/converted/<name>-<key>/`` (``<cache>``: ``$AEKIT_CACHE``, else
``$XDG_CACHE_HOME/aekit``, else ``~/.cache/aekit``). The key digests the source's path, size and
modification time and the options that shaped the conversion: a changed file, or other columns,
make a new entry; the same ones reuse it. An entry appears whole or not at all (it is written in
a staging folder that is renamed into place). Delete the folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..errors import InvalidInputError


def cache_dir() -> Path:
    """aekit's cache: ``$AEKIT_CACHE``, else ``$XDG_CACHE_HOME/aekit``, else ``~/.cache/aekit``."""
    if os.environ.get("AEKIT_CACHE"):
        return Path(os.environ["AEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aekit"


def converted(source: Path, kind: str, options: dict, write: Callable[[Path], None]) -> Path:
    """The cache folder holding ``source`` converted by ``write(folder)``, made if missing."""
    info = source.stat()
    identity = [str(source.resolve()), info.st_size, info.st_mtime_ns, kind, options]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]
    target = cache_dir() / "converted" / f"{source.stem}-{key}"
    if (target / "complete").is_file():
        return target
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        write(staging)
        (staging / "complete").touch()
        if not (target / "complete").is_file():  # (another process, e.g. a torchrun peer, may be first)
            shutil.rmtree(target, ignore_errors=True)  # an entry left incomplete by a crash
            os.replace(staging, target)
    except OSError as exc:
        raise InvalidInputError(f"{source}: cannot write its streamable copy in {target.parent} ({exc}); "
                                "free space there or point AEKIT_CACHE at a disk with room") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
