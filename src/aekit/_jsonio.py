"""JSON that aekit reads back (model configs, checkpoint headers, run and verb summaries):
bounded in size and depth, always an object, and errors that name the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import InvalidInputError

MAX_BYTES = 64 << 20  # a config of 100,000 features with their names and statistics is ~5 MB
MAX_DEPTH = 32  # aekit writes at most 5 levels


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_object(text: str | bytes, where, error=InvalidInputError) -> dict:
    """Parse JSON text that must hold one object of bounded depth."""
    if len(text) > MAX_BYTES:
        raise error(f"{where} is {len(text):,} bytes, more than aekit ever writes ({MAX_BYTES:,})")
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{where} is nested too deeply to be an aekit file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{where} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise error(f"{where} holds a JSON {type(value).__name__}, not the object aekit writes")
    if _depth_exceeds(value, MAX_DEPTH):
        raise error(f"{where} is nested more than {MAX_DEPTH} levels deep: not an aekit file")
    return value


def read_object(path, error=InvalidInputError) -> dict:
    """Read a JSON file that must hold one object; size is checked before reading."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise error(f"{path} is {size:,} bytes, more than aekit ever writes ({MAX_BYTES:,})")
        text = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_object(text, path, error)


def canonical(value) -> bytes:
    """One byte string per JSON value: what content checksums are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def digest(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()
