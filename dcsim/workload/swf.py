"""Job traces in the Standard Workload Format (SWF) of the Parallel Workloads Archive.

The format (Chapin, Cirne, Feitelson et al., "Benchmarks and Standards for the Evaluation
of Parallel Job Schedulers", JSSPP 1999; version 2.2 at
https://www.cs.huji.ac.il/labs/parallel/workload/swf.html) has one job per line: 18
whitespace-separated numbers, -1 where a value is unknown, and comment lines starting
with ``;``, among them the header's ``; Key: value`` lines (``MaxProcs``, ``MaxNodes``,
``UnixStartTime``, ...). Times are in seconds.

What a job takes from its line:

- submit time (field 2) -> submission; run time (field 4) -> duration;
- requested time (field 9) -> the estimate a backfilling scheduler plans with; where it is
  unknown (-1 or 0) the estimate is the run time (an exact estimate);
- allocated processors (field 5; where unknown, the requested processors, field 8) -> GPUs:
  ``ceil(processors x gpus_per_processor / processors_per_gpu)``;
- user (field 12) or group (field 13) -> tenant, with ``tenant_from``;
- the job number (field 1) -> the job's ``trace_id``.

By status (field 11), a job that ran is kept whatever became of it: completed (1), failed
(0), cancelled after it started (5) and unknown (-1) jobs each hold their GPUs for their
recorded run time, as they held the machine's processors. Dropped, and counted in the
notes: partial-execution lines (status 2, 3, 4: a checkpointed or swapped job's pieces,
which its summary line, of status 0, 1 or 5, stands for), jobs that never ran (run time 0
or -1: cancelled in the queue, or failed at once) and jobs with no processor count.

The file is parsed by Arrow's CSV reader after the comments are cut and runs of blanks
made one (no loop over rows in Python); a file it refuses is read again line by line to
name the first bad line and field.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dcsim.core.errors import TraceError, unreadable
from dcsim.core.files import remember_sha256

if TYPE_CHECKING:
    import os

    import numpy as np

    from dcsim.workload.spec import Trace

FIELDS = (
    "job number", "submit time", "wait time", "run time", "allocated processors", "average CPU time",
    "used memory", "requested processors", "requested time", "requested memory", "status", "user id",
    "group id", "executable number", "queue number", "partition number", "preceding job", "think time",
)  # fmt: skip
"""The 18 fields of an SWF line, in order (field k is ``FIELDS[k - 1]``)."""

STATUSES = {1: "completed", 0: "failed", 5: "cancelled", -1: "unknown", 2: "partial", 3: "partial", 4: "partial"}
"""What each status means (2: a partial execution to be continued; 3, 4: the last one of a completed, failed job)."""

_COMMENT = re.compile(rb"(?m)^[ \t]*;[^\n]*\n?")
_BLANKS = re.compile(rb"[ \t\r]+")
_EDGES = re.compile(rb"(?m)^ | $")
_DATA_LINE = re.compile(rb"(?m)^[ \t]*[^;\s]")
_HEADER = re.compile(rb"(?m)^[ \t]*;[ \t]*([A-Za-z]+)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")


def header(data: bytes) -> dict[str, str]:
    """The header comments ``; Key: value`` of an SWF file (the first value of a key that appears twice)."""
    out: dict[str, str] = {}
    for key, value in _HEADER.findall(data):
        out.setdefault(key.decode("ascii"), value.decode("utf-8", "replace"))
    return out


def read_swf(trace: Trace, path: str, stat: os.stat_result) -> dict[str, Any]:
    """Read an SWF trace, sorted by submission time (see the module's text for the mapping).

    Returns:
        The fields of a :class:`dcsim.workload.trace.TraceTable` (which this module does not
        import: the trace module imports this one).

    Args:
        trace: the scenario's ``workload.trace`` block (``format: swf``).
        path: the file, resolved.
        stat: its ``os.stat``, for the SHA-256 the manifest records.

    Raises:
        TraceError: an unreadable file, a bad line (naming the file, line and field), or no job left.
    """
    import numpy as np

    from dcsim.core.table import numbers_text

    data, lines, f = load_swf(path, trace.tenant_from)
    remember_sha256(path, data, stat)
    status = f[10].astype(np.int64)
    run = f[3]
    processors = np.where(f[4] > 0, f[4], f[7]).astype(np.int64)
    keep, dropped = kept_jobs(f)
    n = int(keep.sum())
    if n == 0:
        said = "; ".join(_counted(k, what) for k, what in dropped if k)
        raise TraceError(f"{path}: no job to run: all {lines.size:,} lines were dropped ({said})")

    submit, run, status, lines_kept = f[1][keep], run[keep], status[keep], lines[keep]
    gpus = (processors[keep] * trace.gpus_per_processor + trace.processors_per_gpu - 1) // trace.processors_per_gpu
    requested = f[8][keep]
    asked = requested > 0
    estimate = np.where(asked, requested, run)
    numbers = f[0][keep].astype(np.int64)
    _unique(numbers, path, lines_kept)
    if trace.tenant_from is not None:
        ids = f[11 if trace.tenant_from == "user" else 12][keep].astype(np.int64)
        values, tenant = np.unique(ids, return_inverse=True)
        tenant_names = ["default" if v == -1 else f"{trace.tenant_from}{v}" for v in values.tolist()]
        tenant = tenant.astype(np.int32)
    else:
        tenant, tenant_names = np.zeros(n, dtype=np.int32), ["default"]

    name = trace.path  # as the scenario names it: a summary does not depend on where the file is
    counts = {s: int((status == s).sum()) for s in (1, 0, 5, -1)}
    kept = ", ".join(f"{counts[s]:,} {STATUSES[s]}" for s in (1, 0, 5, -1) if counts[s])
    notes = [f"{name}: {n:,} of {lines.size:,} SWF jobs kept ({kept}); a failed or cancelled job holds its GPUs "
             "for its recorded run time"]  # fmt: skip
    said = "; ".join(_counted(k, what) for k, what in dropped if k)
    if said:
        notes.append(f"{name}: dropped {said}")
    if not asked.all():
        notes.append(f"{name}: {_counted(int((~asked).sum()), 'jobs have')} no requested time (-1): their estimate "
                     "is their run time, an exact one")  # fmt: skip
    over = int((asked & (run > requested)).sum())
    if over:
        notes.append(f"{name}: {_counted(over, 'jobs')} ran longer than requested: their estimates are short")
    head = header(data)
    machine = head.get("MaxProcs") or head.get("MaxNodes")
    if machine is not None and machine.isdigit():
        procs = int(machine)
        size = -(-procs * trace.gpus_per_processor // trace.processors_per_gpu)
        which = "MaxProcs" if "MaxProcs" in head else "MaxNodes"
        ratio = f"gpus_per_processor {trace.gpus_per_processor}, processors_per_gpu {trace.processors_per_gpu}"
        notes.append(f"{name}: the header's {which} is {procs:,}: that machine is {size:,} GPUs at {ratio}")

    rows = np.arange(n)
    if n > 1 and not (submit[1:] >= submit[:-1]).all():  # SWF lines are sorted by submit time; be sure
        rows = np.argsort(submit, kind="stable")
        submit, gpus, run, estimate, tenant = (a[rows] for a in (submit, gpus, run, estimate, tenant))
    return {
        "submit_time": submit, "gpus": gpus, "duration": run, "estimate": estimate,
        "priority": np.zeros(n, dtype=np.int64), "job_class": np.zeros(n, dtype=np.int32),
        "class_names": [trace.name], "tenant": tenant, "tenant_names": tenant_names, "rows": rows,
        "ids": numbers_text(numbers), "lines": lines_kept, "notes": tuple(notes),
    }  # fmt: skip


def load_swf(path: str, tenant_from: str | None = None) -> tuple[bytes, np.ndarray, list[np.ndarray]]:
    """An SWF file's bytes, its data lines' numbers and their 18 fields, each checked.

    Raises:
        TraceError: an unreadable file, no data line, or a bad line (naming the file, line and field).
    """
    import numpy as np

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise unreadable(path, exc, "an SWF file", TraceError) from None
    starts = np.fromiter((m.start() for m in _DATA_LINE.finditer(data)), dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lines = np.searchsorted(newlines, starts) + 1  # each data line's number, as an editor counts lines
    if lines.size == 0:
        raise TraceError(f"{path}: no jobs: an SWF file has one line of 18 fields per job after its ; comments")
    f = _fields(data, path, lines)
    _check(f, path, lines, data, tenant_from)
    return data, lines, f


def kept_jobs(f: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Which lines are jobs dcsim runs, and how many of the others are dropped for each reason.

    Args:
        f: the 18 fields of every data line (from :func:`load_swf`).

    Returns:
        The mask of the lines kept, and ``(count, reason)`` of the lines dropped.
    """
    import numpy as np

    status = f[10].astype(np.int64)
    run = f[3]
    processors = np.where(f[4] > 0, f[4], f[7]).astype(np.int64)
    partial = (status >= 2) & (status <= 4)
    never_ran = ~partial & (run <= 0)
    no_size = ~partial & ~never_ran & (processors <= 0)
    dropped = [
        (int(partial.sum()), "partial-execution lines (status 2, 3, 4; the job's summary line stands for it)"),
        (int(never_ran.sum()), "jobs that never ran (run time 0 or -1: cancelled in the queue, or failed at once)"),
        (int(no_size.sum()), "jobs without a processor count (fields 5 and 8 both -1)"),
    ]
    return ~(partial | never_ran | no_size), dropped


def _counted(k: int, what: str) -> str:
    """``k`` and ``what``, in the singular when ``k`` is 1 ('1 job that never ran', '1 job has')."""
    if k == 1:
        what = what.replace("lines", "line", 1).replace("jobs have", "job has", 1).replace("jobs", "job", 1)
    return f"{k:,} {what}"


def _fields(data: bytes, path: str, lines: np.ndarray) -> list[np.ndarray]:
    """The 18 fields of every data line as float arrays; the first malformed line raised as a TraceError."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from dcsim.core.table import arrow_numbers

    body = _EDGES.sub(b"", _BLANKS.sub(b" ", _COMMENT.sub(b"", data)))
    names = [f"f{k}" for k in range(1, 19)]
    try:
        table = pcsv.read_csv(
            pa.py_buffer(body),
            read_options=pcsv.ReadOptions(column_names=names),
            parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64()), null_values=[]),
        )
    except (pa.ArrowException, ValueError) as exc:
        _first_bad_line(data, path)
        raise TraceError(f"{path}: not a readable SWF file: {exc}") from None
    if table.num_rows != lines.size:  # cannot happen: every data line is a row
        _first_bad_line(data, path)
        raise TraceError(f"{path}: {table.num_rows} rows read from {lines.size} lines; not a readable SWF file")
    return [arrow_numbers(table.column(name)) for name in names]


def _first_bad_line(data: bytes, path: str) -> None:
    """Raise a TraceError naming the first line that is not 18 numbers (a file refused as a whole)."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        text = raw.decode("utf-8", "replace").strip()
        if not text or text.startswith(";"):
            continue
        values = text.split()
        if len(values) != len(FIELDS):
            raise TraceError(f"{path} line {number}: {len(values)} fields; an SWF line has {len(FIELDS)} "
                             "(-1 for an unknown value), or starts with ; for a comment")  # fmt: skip
        for k, value in enumerate(values, start=1):
            try:
                float(value)
            except ValueError:
                raise TraceError(f"{path} line {number}: field {k} ({FIELDS[k - 1]}) is {value!r}; it must be a "
                                 "number (-1: unknown)") from None  # fmt: skip


def _check(f: list[np.ndarray], path: str, lines: np.ndarray, data: bytes, tenant_from: str | None) -> None:
    """Refuse a value that cannot be what its field means, naming the line and field of the first one.

    Only the fields read are checked: a log's odd CPU time or memory does not stop a run.
    """
    import numpy as np

    def unknown_or(v: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return (v == -1) | ok

    whole = {1, 5, 8, 11, 12, 13}
    rules = {  # field -> (values it may take, what it must be)
        1: (f[0] >= 0, "a whole number >= 0"),
        2: (f[1] >= 0, "a number >= 0 (s)"),
        4: (unknown_or(f[3], f[3] >= 0), "a number >= 0 (s), or -1"),
        5: (unknown_or(f[4], f[4] >= 0), "a whole number >= 0, or -1"),
        8: (unknown_or(f[7], f[7] >= 0), "a whole number >= 0, or -1"),
        9: (unknown_or(f[8], f[8] >= 0), "a number >= 0 (s), or -1"),
        11: (np.isin(f[10], list(STATUSES)), "one of -1, 0, 1, 2, 3, 4, 5"),
    }
    if tenant_from is not None:
        k = 12 if tenant_from == "user" else 13
        rules[k] = (unknown_or(f[k - 1], f[k - 1] >= 0), "a whole number >= 0, or -1")
    first_bad = []
    for k, (ok, _) in rules.items():
        values = f[k - 1]
        bad = ~ok | ~np.isfinite(values)
        if k in whole:
            bad |= values != np.round(values)
        if bad.any():
            first_bad.append((int(np.flatnonzero(bad)[0]), k))
    if first_bad:
        row, k = min(first_bad)
        line = int(lines[row])
        text = data.split(b"\n")[line - 1].decode("utf-8", "replace").split()[k - 1]
        raise TraceError(f"{path} line {line}: field {k} ({FIELDS[k - 1]}) is {text!r}; it must be {rules[k][1]}")


def _unique(numbers: np.ndarray, path: str, lines: np.ndarray) -> None:
    """Refuse a job number on two kept lines (results name jobs by it)."""
    import numpy as np

    order = np.argsort(numbers, kind="stable")
    same = np.flatnonzero(numbers[order][1:] == numbers[order][:-1])
    if same.size:
        i = min(same.tolist(), key=lambda j: int(lines[order[j + 1]]))  # the repeat met first, reading down
        first, second = int(lines[order[i]]), int(lines[order[i + 1]])
        raise TraceError(f"{path} lines {first} and {second}: job number {int(numbers[order[i]])} twice; an SWF "
                         "job's number is unique (its partial executions, status 2 to 4, are dropped)")  # fmt: skip
