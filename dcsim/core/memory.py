"""Giving freed memory back to the operating system."""

from __future__ import annotations

import functools
import sys


@functools.cache
def _trim() -> object | None:
    """The C library's ``malloc_trim`` (glibc), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim  # the process's own symbols, libc's among them
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_free_memory() -> None:
    """Return the C heap's free pages to the system (``malloc_trim(0)`` with glibc; elsewhere nothing).

    After a large table is parsed or dropped, glibc keeps the freed space for reuse, so
    the process's resident memory stays at its high-water mark; a run that goes on to
    build other large tables then peaks higher than it needs to.
    """
    trim = _trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]
