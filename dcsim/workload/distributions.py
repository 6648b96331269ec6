"""Samplers for the scenario's distributions, drawing in bulk with numpy.

Each sampler is ``draw(rng, n) -> ndarray`` so the engine can draw a chunk of jobs at
once; values are in engine units (seconds, GPUs).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from dcsim.core import units
from dcsim.core.csvtext import read_csv_text, resolve
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.workload.spec import (
    ChoiceCount,
    EmpiricalCount,
    EmpiricalDist,
    ExponentialDist,
    FixedDist,
    LogNormalDist,
    WeibullDist,
)

if TYPE_CHECKING:
    import numpy as np

Sampler = Callable[["np.random.Generator", int], "np.ndarray"]


def read_column(path: str, column: str, kind: str) -> np.ndarray:
    """Read one numeric column of a CSV file (cached while the file is unchanged); see :func:`_read_column`."""
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; check the path (relative to the scenario file)")
    stat = os.stat(path)
    return _read_column(path, stat.st_mtime_ns, stat.st_size, column, kind)


@lru_cache(maxsize=32)
def _read_column(path: str, mtime_ns: int, size: int, column: str, kind: str) -> np.ndarray:
    """Read one numeric column of a CSV file, naming the line of any bad value.

    Args:
        path: the CSV file.
        mtime_ns: its modification time, part of the cache key.
        size: its size in bytes, part of the cache key.
        column: column name.
        kind: ``"duration"`` (numbers > 0) or ``"count"`` (whole numbers >= 1).

    Raises:
        TraceError: a missing column, or a value that is not of ``kind``.
    """
    import numpy as np
    import pandas as pd

    frame = read_csv_text(path)
    if column not in frame.columns:
        raise TraceError(f"{path}: no column {column!r}; columns are {', '.join(frame.columns)}")
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if kind == "count":
        bad |= values != np.round(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        want = "a whole number >= 1" if kind == "count" else "a number > 0"
        raise TraceError(f"{path} line {row + 2}: column {column!r} is {frame[column].iloc[row]!r}; it must be {want}")
    if len(values) == 0:
        raise TraceError(f"{path}: column {column!r} has no values")
    return values


def duration_sampler(spec: object, base_dir: str = ".") -> tuple[Sampler, float]:
    """Return a sampler of durations (s) and the distribution's mean (s).

    numpy is imported at the first draw, so that the mean alone (``dcsim validate``'s
    offered load) needs none.
    """
    if isinstance(spec, FixedDist):
        v = spec.value

        def fixed(rng: np.random.Generator, n: int) -> np.ndarray:
            import numpy as np

            return np.full(n, v)

        return fixed, v
    if isinstance(spec, ExponentialDist):
        m = spec.mean
        return (lambda rng, n: rng.exponential(m, n)), m
    if isinstance(spec, LogNormalDist):
        sigma = spec.sigma
        location = spec.median if spec.median is not None else spec.mean
        assert location is not None  # the schema requires one of them
        mu = math.log(location) if spec.median is not None else math.log(location) - sigma**2 / 2
        return (lambda rng, n: rng.lognormal(mu, sigma, n)), math.exp(mu + sigma**2 / 2)
    if isinstance(spec, WeibullDist):
        k = spec.shape
        gamma = math.gamma(1 + 1 / k)
        given = spec.scale if spec.scale is not None else spec.mean
        assert given is not None  # the schema requires one of them
        scale = given if spec.scale is not None else given / gamma
        return (lambda rng, n: scale * rng.weibull(k, n)), scale * gamma
    if isinstance(spec, EmpiricalDist):
        factor = units.duration("1" + spec.unit)
        values = read_column(resolve(base_dir, spec.path), spec.column, "duration") * factor
        return (lambda rng, n: rng.choice(values, n)), float(values.mean())
    raise TypeError(f"not a duration distribution: {spec!r}")


def count_sampler(spec: object, base_dir: str = ".") -> tuple[Sampler, int]:
    """Return a sampler of GPU counts and the largest count it can draw.

    For a choice, the largest count is found without numpy (``dcsim validate`` needs
    only that), and the sampler's arrays are made at its first draw.
    """
    if isinstance(spec, ChoiceCount):
        values = list(spec.values)
        if len(values) == 1:
            v = int(values[0])

            def single(rng: np.random.Generator, n: int) -> np.ndarray:
                import numpy as np

                return np.full(n, v, dtype=np.int64)

            return single, v
        weights = list(spec.weights) if spec.weights is not None else [1.0] * len(values)
        total = sum(weights)
        largest = max(v for v, w in zip(values, weights, strict=True) if w / total > 0)

        @lru_cache(maxsize=1)
        def arrays() -> tuple[np.ndarray, np.ndarray]:
            import numpy as np

            w = np.asarray(weights)
            return np.asarray(values, dtype=np.int64), w / w.sum()

        def choice(rng: np.random.Generator, n: int) -> np.ndarray:
            counts, p = arrays()
            return rng.choice(counts, n, p=p)

        return choice, largest
    if isinstance(spec, EmpiricalCount):
        import numpy as np

        counts = read_column(resolve(base_dir, spec.path), spec.column, "count").astype(np.int64)
        return (lambda rng, n: rng.choice(counts, n)), int(counts.max())
    raise TypeError(f"not a GPU count distribution: {spec!r}")
