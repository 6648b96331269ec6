"""The simulation clock: a thin owner of ``simpy.Environment``.

Knows no domain words; the data center model (:mod:`dcsim.engine`) builds on it.
"""

from __future__ import annotations

import simpy


class Simulation:
    """Owns the SimPy environment of one run."""

    def __init__(self) -> None:
        self.env = simpy.Environment()

    @property
    def now(self) -> float:
        """Simulated time, s."""
        return float(self.env.now)
