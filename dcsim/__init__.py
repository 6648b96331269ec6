"""dcsim: a discrete-event simulator of AI (GPU) data centers.

A scenario file (YAML) describes sites, racks, GPU nodes, a training workload and
the policies that schedule it; :func:`dcsim.experiment.run.run_scenario` simulates
it on SimPy and scores cost, utilization and fault impact.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
