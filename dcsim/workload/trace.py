"""Job traces from CSV files, with a column mapping.

Every value is checked; the first bad one is reported with its file, line (as an
editor counts lines, header = line 1) and column.

A trace is read once per process while its file is unchanged: the scenario checks,
the offered-load estimate, the run and the manifest's hash of the file share one
read (see :func:`read_trace`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.core.files import remember_sha256
from dcsim.core.memory import release_free_memory
from dcsim.workload.distributions import read_csv_text, resolve
from dcsim.workload.spec import MIN_SHARE, Trace

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: Fields read as numbers, and whether they must be whole numbers.
_NUMERIC = {"submit_time": False, "gpus": True, "duration": False, "estimate": False, "priority": True,
            "cpu": False, "memory": False, "gpu_fraction": False}  # fmt: skip
#: The columns of what a job asks of a node where GPUs are shared (cores, bytes, a share of one GPU).
SHARING_COLUMNS = ("cpu", "memory", "gpu_fraction")


@dataclass(frozen=True)
class TraceTable:
    """A job trace, sorted by submission time (stably: ties keep the file's order).

    Times in s. Text columns are codes into names; ``rows`` is each job's row in the
    file (0 = the first after the header), so its line is ``rows + 2``.
    """

    submit_time: np.ndarray
    gpus: np.ndarray
    duration: np.ndarray
    estimate: np.ndarray
    priority: np.ndarray
    job_class: np.ndarray
    class_names: list[str]
    tenant: np.ndarray
    tenant_names: list[str]
    rows: np.ndarray
    ids: pa.Array | None
    """The trace's ``job_id`` column in file order (None: jobs are named by their row)."""
    lines: np.ndarray | None = None
    """Each row's line in the file, indexed by ``rows`` (None: ``rows + 2``, a CSV file's)."""
    notes: tuple[str, ...] = ()
    """What reading the file dropped or assumed, for the run's and ``dcsim validate``'s notes."""
    cpu: np.ndarray | None = None
    """Cores per job (None: no ``cpu`` column)."""
    memory: np.ndarray | None = None
    """Host memory per job, bytes (None: no ``memory`` column)."""
    gpu_fraction: np.ndarray | None = None
    """The share of one GPU of each job, 1 for whole GPUs (None: no ``gpu_fraction`` column)."""

    def __len__(self) -> int:
        return int(self.submit_time.size)

    def line(self, i: int) -> int:
        """The file line (as an editor counts lines) of job ``i`` of the table."""
        row = int(self.rows[i])
        return row + 2 if self.lines is None else int(self.lines[row])

    def first(self, n: int) -> TraceTable:
        """The first ``n`` jobs."""
        cut = {f: getattr(self, f)[:n] for f in ("submit_time", "gpus", "duration", "estimate", "priority",
                                                 "job_class", "tenant", "rows")}  # fmt: skip
        for f in SHARING_COLUMNS:
            if getattr(self, f) is not None:
                cut[f] = getattr(self, f)[:n]
        return replace(self, **cut)

    def class_mean(self) -> np.ndarray:
        """Each job's class's mean duration, s."""
        import numpy as np

        k = len(self.class_names)
        total = np.bincount(self.job_class, weights=self.duration, minlength=k)
        count = np.bincount(self.job_class, minlength=k)
        return (total / np.maximum(count, 1))[self.job_class]


def trace_id_texts(ids: pa.Array | None, rows: np.ndarray) -> pa.Array:
    """The trace ids (text) of the jobs at file rows ``rows``, from a trace's ``ids`` (None: the row numbers)."""
    import numpy as np

    from dcsim.core.table import numbers_text

    if ids is None:
        return numbers_text(rows)
    if rows.size == len(ids) and (rows == np.arange(rows.size)).all():
        return ids
    return ids.take(rows)  # imports pyarrow.compute: only for a trace cut by the horizon or out of order


#: The last trace read: (file, mtime, size, trace block) -> its table.
_last: tuple[tuple[str, int, int, str], TraceTable] | None = None


def read_trace(trace: Trace, base_dir: str = ".") -> TraceTable:
    """Read a job trace into a table sorted by submission time.

    The table of the last trace read is kept while its file (path, modification
    time, size) and the ``trace`` block are unchanged, and returned again: callers
    share it and must not modify it in place. Reading the file also records its
    SHA-256 for :func:`dcsim.core.files.file_sha256`, so hashing it costs no read.

    Returns:
        The jobs, sorted by submission time.

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
    if trace.format == "swf":
        from dcsim.workload.swf import read_swf

        table = TraceTable(**read_swf(trace, path, stat))
    else:
        table = _read(trace, path, stat)
    release_free_memory()  # what parsing the file took
    _last = (key, table)
    return table


def trace_notes(trace: Trace | None, base_dir: str = ".") -> list[str]:
    """What reading a trace dropped or assumed (an SWF file's statuses, unknown fields), one line each.

    Args:
        trace: the scenario's ``workload.trace`` (None: no notes).
        base_dir: the scenario file's folder.
    """
    if trace is None or trace.format == "csv":  # a CSV trace's rows are all kept, or refused
        return []
    try:
        return list(read_trace(trace, base_dir).notes)
    except TraceError:  # reported as an error by the checks
        return []


def forget_trace() -> None:
    """Drop the table :func:`read_trace` keeps (a run that has submitted its jobs needs it no more)."""
    global _last
    _last = None


def _read(trace: Trace, path: str, stat: os.stat_result) -> TraceTable:
    """Read and check a trace file (see :func:`read_trace`)."""
    import numpy as np

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        data = None  # read_csv_text below reports it as it always has
    else:
        remember_sha256(path, data, stat)
    assert trace.columns is not None  # the schema requires it of a CSV trace
    wanted = {k: v for k, v in trace.columns.model_dump().items() if v is not None}
    raw = _arrow_read(data, wanted) if data is not None else None
    if raw is None:  # the careful read, which finds and names any problem
        raw = _text_read(path, data, wanted)
    factor = units.duration("1" + trace.time_unit)

    def numeric(field: str, *, minimum: float, whole: bool = False, strict: bool = False) -> np.ndarray:
        values = raw[field]
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

    submit = numeric("submit_time", minimum=0) * factor
    n = submit.size
    sharing = {f: numeric(f, minimum=0) for f in SHARING_COLUMNS if f in wanted}
    cpu_only = "cpu" in sharing or "memory" in sharing  # a job of 0 GPUs asks for CPU or memory
    gpus = numeric("gpus", minimum=0 if cpu_only else 1, whole=True).astype(np.int64)
    if "gpu_fraction" in sharing:
        _check_fractions(sharing["gpu_fraction"], gpus, path, wanted["gpu_fraction"])
    duration = numeric("duration", minimum=0, strict=True) * factor
    estimate = numeric("estimate", minimum=0, strict=True) * factor if "estimate" in wanted else duration
    priority = (
        numeric("priority", minimum=-(2**31), whole=True).astype(np.int64)
        if "priority" in wanted
        else np.zeros(n, dtype=np.int64)
    )
    one = np.zeros(n, dtype=np.int32)
    job_class, class_names = _blank_is(trace.name, *raw["job_class"]) if "job_class" in wanted else (one, [trace.name])
    tenant, tenant_names = _blank_is("default", *raw["tenant"]) if "tenant" in wanted else (one, ["default"])
    rows = np.arange(n)
    if n > 1 and not (submit[1:] >= submit[:-1]).all():  # a sorted trace (the usual case) is not copied
        rows = np.argsort(submit, kind="stable")
        submit, gpus, duration, estimate, priority, job_class, tenant = (
            a[rows] for a in (submit, gpus, duration, estimate, priority, job_class, tenant)
        )
        sharing = {f: a[rows] for f, a in sharing.items()}
    ids = raw.get("job_id")
    if ids is not None:
        _check_ids(ids, path, wanted["job_id"])
    return TraceTable(submit, gpus, duration, estimate, priority, job_class, class_names, tenant, tenant_names,
                      rows, ids, **sharing)  # fmt: skip


def _check_fractions(fraction: np.ndarray, gpus: np.ndarray, path: str, column: str) -> None:
    """A share of a GPU is in [0.001, 1] and asks for one GPU (1 with any count: whole GPUs); else TraceError."""
    bad = (fraction < MIN_SHARE) | (fraction > 1) | ((fraction < 1) & (gpus != 1))
    if bad.any():
        row = int(bad.argmax())
        why = (
            f"in [{MIN_SHARE}, 1] (1 milli-GPU or more: shares are counted in thousandths of a GPU)"
            if not MIN_SHARE <= fraction[row] <= 1
            else "1 (whole GPUs) for a job of more or fewer GPUs than 1"
        )
        raise TraceError(f"{path} line {row + 2}: column {column!r} (gpu_fraction) is {fraction[row]:g}; it must be "
                         f"{why}")  # fmt: skip


def _check_ids(ids: pa.Array, path: str, column: str) -> None:
    """Refuse a ``job_id`` column with an empty value or one value twice (results name jobs by it).

    Raises:
        TraceError: names the file, the line(s) and the value.
    """
    seen: dict[str, int] = {}
    for row, value in enumerate(ids.to_pylist()):
        text = (value or "").strip()
        if not text:
            raise TraceError(f"{path} line {row + 2}: column {column!r} (job_id) is empty; give every job an id, "
                             "or leave job_id out of workload.trace.columns to name jobs by their row")  # fmt: skip
        first = seen.setdefault(text, row)
        if first != row:
            raise TraceError(f"{path} lines {first + 2} and {row + 2}: column {column!r} (job_id) is {text!r} "
                             "twice; job ids must be unique")  # fmt: skip


def _blank_is(default: str, codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """A text column's codes and names with an empty value read as ``default`` (a job's class or tenant left blank)."""
    if "" not in names:
        return codes, names
    if default not in names:
        return codes, [default if n == "" else n for n in names]
    import numpy as np

    blank, named = names.index(""), names.index(default)
    return np.where(codes == blank, named, codes).astype(codes.dtype), names  # "" stays a name no job has


#: Whitespace next to a separator, which the careful read strips (the fast read would keep it).
_SPACED = re.compile(rb"[ \t][,\r\n]|[,\n][ \t]|^[ \t]|[ \t]$")


def _arrow_read(data: bytes, wanted: dict[str, str]) -> dict[str, Any] | None:
    """The trace's columns parsed by Arrow's CSV reader; None if it refuses the file or might read it otherwise.

    Numbers parse to the nearest double, as Python's ``float`` parses them; text
    columns are dictionary-encoded. Anything unusual (whitespace around values, a
    header with repeated or missing names, a blank, a word in a numeric column) is
    left to :func:`_text_read`, which strips, names the line of a problem and gives the
    same columns. Arrow is used without pandas (see :mod:`dcsim.core.table`).
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from dcsim.core.table import arrow_coded, arrow_numbers

    if _SPACED.search(data):
        return None
    try:
        header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    columns = set(wanted.values())
    numbers = {v for k, v in wanted.items() if k in _NUMERIC}
    ids = wanted.get("job_id")
    text = {v for k, v in wanted.items() if k not in _NUMERIC and k != "job_id"}
    shared = bool(numbers & (text | {ids})) or ids in text  # one column read two ways: left to the text read
    if shared or len(set(header)) != len(header) or not columns <= set(header):
        return None
    types = {c: pa.float64() for c in numbers} | {c: pa.dictionary(pa.int32(), pa.string()) for c in text}
    if ids is not None:
        types[ids] = pa.string()
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            convert_options=pcsv.ConvertOptions(
                column_types=types, include_columns=sorted(columns), null_values=[], strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows == 0:
        return None
    out: dict[str, Any] = {}
    for field, column in wanted.items():
        if field in _NUMERIC:
            out[field] = arrow_numbers(table.column(column))
        elif field == "job_id":
            chunks = table.column(column).chunks
            out[field] = chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)
        else:
            out[field] = arrow_coded(table.column(column))
    return out


def _text_read(path: str, data: bytes | None, wanted: dict[str, str]) -> dict[str, Any]:
    """The trace's columns from its text, every value stripped; the first problem raised as a TraceError."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    raw = read_csv_text(path, io.BytesIO(data) if data is not None else None)
    if raw.empty:
        raise TraceError(f"{path}: no jobs: the file has a header line but no rows")
    missing = [f"{k} -> {v!r}" for k, v in wanted.items() if v not in raw.columns]
    if missing:
        raise TraceError(
            f"{path}: columns not found: {', '.join(missing)}; the file has "
            f"{', '.join(raw.columns)} (fix workload.trace.columns)"
        )
    out: dict[str, Any] = {}
    for field, column in wanted.items():
        values = raw[column].str.strip()
        if field in _NUMERIC:
            out[field] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        elif field == "job_id":
            out[field] = pa.array(values.to_numpy(dtype=object), type=pa.string())
        else:
            codes, names = pd.factorize(values, sort=False)
            out[field] = (codes.astype(np.int32), [str(v) for v in names])
    return out
