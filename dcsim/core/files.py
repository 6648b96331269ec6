"""Files written whole or not at all: to a temporary name beside the target, then renamed."""

from __future__ import annotations

import os
from collections.abc import Callable


def write_atomically(path: str, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``.

    A crash or kill leaves either the old file or the new one, never half of one; the
    temporary name holds ``.tmp-<pid>`` so leftovers can be recognised and removed.
    """
    parent = os.path.dirname(path) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
