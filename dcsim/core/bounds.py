"""Bounds on numbers the user gives that are not quantities of the model (seeds, counts of runs).

Kept free of imports so that the command line can check its arguments before loading anything.
"""

from __future__ import annotations

MAX_SEED = 2**63 - 1
"""Largest seed: seeds are stored in 64-bit integer columns (runs.parquet, jobs tables)."""
MAX_REPLICATIONS = 10_000
"""Most seeds (replications) one compare, sweep or plan runs per variant or point."""
MAX_WORKERS = 1024
"""Most worker processes of a sweep or plan (each is a whole Python process)."""
