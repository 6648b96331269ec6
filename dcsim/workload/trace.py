"""Job traces from CSV files, with a column mapping.

Every value is checked; the first bad one is reported with its file, line (as an
editor counts lines, header = line 1) and column.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.scenario.schema import Trace
from dcsim.workload.distributions import read_csv_text, resolve


def read_trace(trace: Trace, base_dir: str = ".") -> pd.DataFrame:
    """Read a job trace into a table sorted by submission time.

    Returns:
        Columns ``submit_time`` (s), ``gpus``, ``duration`` (s), ``estimate`` (s),
        ``job_class``, ``tenant``, ``priority``, ``trace_id``.

    Raises:
        TraceError: a missing file or column, or a bad row.
    """
    path = resolve(base_dir, trace.path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; give a path relative to the scenario file")
    raw = read_csv_text(path)
    if raw.empty:
        raise TraceError(f"{path}: no jobs: the file has a header line but no rows")
    cols = trace.columns
    wanted = {k: v for k, v in cols.model_dump().items() if v is not None}
    missing = [f"{k} -> {v!r}" for k, v in wanted.items() if v not in raw.columns]
    if missing:
        raise TraceError(
            f"{path}: columns not found: {', '.join(missing)}; the file has "
            f"{', '.join(raw.columns)} (fix workload.trace.columns)"
        )
    factor = units.duration("1" + trace.time_unit)

    def numeric(field: str, *, minimum: float, whole: bool = False, strict: bool = False) -> np.ndarray:
        text = raw[wanted[field]].str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= minimum if strict else values < minimum)
        if whole:
            bad |= values != np.round(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            sign = ">" if strict else ">="
            kind = "a whole number" if whole else "a number"
            raise TraceError(
                f"{path} line {row + 2}: column {wanted[field]!r} ({field}) is "
                f"{text.iloc[row]!r}; it must be {kind} {sign} {minimum:g}"
            )
        return values

    n = len(raw)
    out = pd.DataFrame(
        {
            "submit_time": numeric("submit_time", minimum=0) * factor,
            "gpus": numeric("gpus", minimum=1, whole=True).astype(np.int64),
            "duration": numeric("duration", minimum=0, strict=True) * factor,
        }
    )
    out["estimate"] = numeric("estimate", minimum=0, strict=True) * factor if "estimate" in wanted else out["duration"]
    out["job_class"] = raw[wanted["job_class"]].str.strip() if "job_class" in wanted else trace.name
    out["tenant"] = raw[wanted["tenant"]].str.strip() if "tenant" in wanted else "default"
    out["priority"] = numeric("priority", minimum=-(2**31), whole=True).astype(np.int64) if "priority" in wanted else 0
    out["trace_id"] = raw[wanted["job_id"]].str.strip() if "job_id" in wanted else np.arange(n).astype(str)
    out["line"] = np.arange(n) + 2
    return out.sort_values("submit_time", kind="stable").reset_index(drop=True)
