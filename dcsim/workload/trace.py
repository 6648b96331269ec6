"""Job traces from CSV files, with a column mapping.

Every value is checked; the first bad one is reported with its file, line (as an
editor counts lines, header = line 1) and column.

A trace is read once per process while its file is unchanged: the scenario checks,
the offered-load estimate, the run and the manifest's hash of the file share one
read (see :func:`read_trace`).
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.core.files import remember_sha256
from dcsim.core.memory import release_free_memory
from dcsim.scenario.schema import Trace
from dcsim.workload.distributions import read_csv_text, resolve

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Fields read as numbers, and whether they must be whole numbers.
_NUMERIC = {"submit_time": False, "gpus": True, "duration": False, "estimate": False, "priority": True}

#: The last trace read: (file, mtime, size, trace block) -> its table.
_last: tuple[tuple[str, int, int, str], pd.DataFrame] | None = None


def read_trace(trace: Trace, base_dir: str = ".") -> pd.DataFrame:
    """Read a job trace into a table sorted by submission time.

    The table of the last trace read is kept while its file (path, modification
    time, size) and the ``trace`` block are unchanged, and returned again: callers
    share it and must not modify it in place. Reading the file also records its
    SHA-256 for :func:`dcsim.core.files.file_sha256`, so hashing it costs no read.

    Returns:
        Columns ``submit_time`` (s), ``gpus``, ``duration`` (s), ``estimate`` (s),
        ``job_class``, ``tenant``, ``priority``, ``trace_id``, ``line``.

    Raises:
        TraceError: a missing file or column, or a bad row.
    """
    global _last
    path = resolve(base_dir, trace.path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; give a path relative to the scenario file")
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size, trace.model_dump_json())
    if _last is not None and _last[0] == key:
        return _last[1]
    _last = None  # let the previous table go before reading the next
    table = _read(trace, path, stat)
    release_free_memory()  # what parsing the file took
    _last = (key, table)
    return table


def forget_trace() -> None:
    """Drop the table :func:`read_trace` keeps (a run that has submitted its jobs needs it no more)."""
    global _last
    _last = None


def _read(trace: Trace, path: str, stat: os.stat_result) -> pd.DataFrame:
    """Read and check a trace file (see :func:`read_trace`)."""
    import numpy as np
    import pandas as pd

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        data = None  # read_csv_text below reports it as it always has
    else:
        remember_sha256(path, data, stat)
    cols = trace.columns
    wanted = {k: v for k, v in cols.model_dump().items() if v is not None}
    raw = _numeric_read(data, wanted) if data is not None else None
    if raw is None:  # the careful read, which finds and names any problem
        raw = read_csv_text(path, io.BytesIO(data) if data is not None else None)
    if raw.empty:
        raise TraceError(f"{path}: no jobs: the file has a header line but no rows")
    missing = [f"{k} -> {v!r}" for k, v in wanted.items() if v not in raw.columns]
    if missing:
        raise TraceError(
            f"{path}: columns not found: {', '.join(missing)}; the file has "
            f"{', '.join(raw.columns)} (fix workload.trace.columns)"
        )
    factor = units.duration("1" + trace.time_unit)

    def numeric(field: str, *, minimum: float, whole: bool = False, strict: bool = False) -> np.ndarray:
        column = raw[wanted[field]]
        if column.dtype == np.float64:
            values = column.to_numpy()
        else:
            values = pd.to_numeric(column.str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= minimum if strict else values < minimum)
        if whole:
            bad |= values != np.round(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            sign = ">" if strict else ">="
            kind = "a whole number" if whole else "a number"
            text = read_csv_text(path, io.BytesIO(data) if data is not None else None)[wanted[field]].str.strip()
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
    if "job_id" in wanted:
        out["trace_id"] = raw[wanted["job_id"]].str.strip()
    else:  # the row number as text, made by Arrow: a Python string per row would cost ~100 bytes each
        import pyarrow as pa

        out["trace_id"] = pd.Series(pa.array(np.arange(n)).cast(pa.string()), dtype="str")
    out["line"] = np.arange(n) + 2
    times = out["submit_time"].to_numpy()
    if n > 1 and not (times[1:] >= times[:-1]).all():  # a sorted trace (the usual case) is not copied
        out = out.sort_values("submit_time", kind="stable").reset_index(drop=True)
    return out


def _numeric_read(data: bytes, wanted: dict[str, str]) -> pd.DataFrame | None:
    """The file with its numeric columns parsed as numbers by the CSV reader; None if that fails.

    Numbers parse as :func:`pandas.to_numeric` parses them (the same converter), so
    the table is the one the text read gives, without a Python string per value;
    anything the reader refuses (a blank, a word) is left to the text read, which
    names the line.
    """
    import numpy as np
    import pandas as pd

    as_text = {v for k, v in wanted.items() if k not in _NUMERIC}
    numbers = {v for k, v in wanted.items() if k in _NUMERIC} - as_text
    try:
        header = pd.read_csv(io.BytesIO(data), nrows=0, skipinitialspace=True).columns
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if len(set(header)) != len(header) or not numbers <= set(header):
        return None
    dtypes = {c: (np.float64 if c in numbers else str) for c in header}
    try:
        return pd.read_csv(io.BytesIO(data), dtype=dtypes, keep_default_na=False, skipinitialspace=True)
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
