"""Named, independent random streams derived from one run seed.

Each source of randomness (``arrivals.<class>``, ``job_sizes.<class>``, ...) gets its
own generator keyed by its name, so adding a stream never shifts another one and,
under one seed, every policy sees identical arrivals, sizes and durations (common
random numbers).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the independent generator for one named source of randomness.

    Args:
        seed: the run seed.
        name: the stream's name; stable across code changes.

    Returns:
        A PCG64 generator seeded from ``(seed, crc32(name))``.
    """
    import numpy as np

    key = (zlib.crc32(name.encode()),)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
