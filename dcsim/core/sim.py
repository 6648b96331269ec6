"""The simulation clock: a thin owner of ``simpy.Environment`` with a wall-clock budget.

Knows no domain words; the data center model (:mod:`dcsim.model`) builds on it.
"""

from __future__ import annotations

import time

import simpy


class Simulation:
    """Owns the SimPy environment of one run and measures its wall time."""

    def __init__(self) -> None:
        self.env = simpy.Environment()
        self.wall_start = time.perf_counter()

    @property
    def now(self) -> float:
        """Simulated time, s."""
        return float(self.env.now)

    def wall_elapsed(self) -> float:
        """Wall-clock seconds since the simulation was created."""
        return time.perf_counter() - self.wall_start
