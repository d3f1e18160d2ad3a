"""How much memory a request would take, checked before it is allocated.

A user's ``--n 1000000000`` or ``--size 30000x30000`` should fail at once with one line saying
what it would need, not swap the machine to death or die with a raw MemoryError.
"""

from __future__ import annotations

import os

from .errors import InvalidInputError


def available_bytes() -> int:
    """Memory available to new allocations: MemAvailable on Linux, else free physical pages."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def require_memory(nbytes: int, what: str, hint: str) -> None:
    """Raise :class:`InvalidInputError` when ``nbytes`` exceed the memory available now."""
    available = available_bytes()
    if nbytes > available:
        raise InvalidInputError(f"{what} would need about {_gib(nbytes)} of memory, and "
                                f"{_gib(available)} is available: {hint}")


def _gib(nbytes: int) -> str:
    return f"{nbytes / (1 << 30):,.1f} GiB"
