"""What the trace importers share: reading rows with their line numbers, and writing what dcsim reads.

Reading: :func:`csv_rows` yields each row of a CSV table with its line (as an editor
counts lines), by column name, from a file with a header or, for tables published without
one (Alibaba PAI 2020's), by position; :func:`number` and :func:`timestamp` parse one value,
and a value that cannot be what its column means is a :class:`TraceError` naming the file,
line and column (an empty value is None: the importer decides whether it drops the row).

Writing: :class:`Job` is one job as the importers keep it; :func:`write_jobs` writes a job
trace CSV (times in seconds from the first kept submission) and returns the scenario's
``workload.trace`` block that reads it; :func:`site` sizes a data center from node counts;
:func:`write_scenario` writes a scenario file with its header comment.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dcsim.core.errors import TraceError, unreadable

#: Values that mean "not recorded" in the public traces (PAI's empty fields, Philly's None, DLRM's NaN).
MISSING = ("", "none", "null", "nan", "na")

#: Racks are at most this many nodes when an importer lays a trace's machines out in racks.
RACK = 16


def open_text(path: Path, what: str) -> Any:
    """``path`` opened as UTF-8 text (newlines as csv wants them); a file that cannot be read is a TraceError."""
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 (the caller closes it)
        fh.read(1)  # a directory or an unreadable file fails here, not in the middle of the rows
        fh.seek(0)
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(str(path), exc, what, TraceError) from None
    return fh


def csv_rows(
    path: Path, columns: Sequence[str], what: str, *, header: bool = True
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row of a CSV table, with its line, as ``{column: stripped text}`` of ``columns``.

    Args:
        path: the file.
        columns: the columns the importer reads (a header may have more, in any order).
        what: the kind of table, for messages (e.g. "a PAI task table").
        header: True: the first line must name the columns. False: the table may come
            without a header (then its rows have exactly ``columns``, in order); a first
            line that names them is skipped.

    Raises:
        TraceError: a missing column, a row of the wrong length, text that is not UTF-8.
    """
    with open_text(path, what) as fh:
        reader = csv.reader(fh)
        index = {c: i for i, c in enumerate(columns)}
        width = len(columns)
        first = True
        try:
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line
                if first:
                    first = False
                    names = [c.strip().lstrip("\ufeff") for c in row]
                    if set(columns) <= set(names):
                        index = {c: names.index(c) for c in columns}
                        width = len(names)
                        continue
                    if header:
                        missing = ", ".join(c for c in columns if c not in names)
                        raise TraceError(f"{path} line {line}: the header lacks {missing}; {what} has the columns "
                                         f"{', '.join(columns)} (is this the right file?)")  # fmt: skip
                if len(row) != width:
                    which = ", ".join(columns) if width == len(columns) else "as its header"
                    raise TraceError(f"{path} line {line}: {len(row)} fields; {what} has {width} per row ({which})")
                yield line, {c: row[i].strip() for c, i in index.items()}
        except csv.Error as exc:
            raise TraceError(f"{path} line {reader.line_num}: not readable as CSV ({exc})") from None
        except UnicodeDecodeError:
            raise TraceError(f"{path}: not a text (UTF-8) file; give {what}") from None


def number(value: str, path: Path, line: int, column: str, *, whole: bool = False) -> float | None:
    """A number from a trace's text; None where it is not recorded (empty, None, NaN).

    Raises:
        TraceError: text that is not a number (or not a whole one), naming file, line and column.
    """
    if value.lower() in MISSING:
        return None
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not math.isfinite(x) or (whole and x != round(x)):
        kind = "a whole number" if whole else "a number"
        raise TraceError(f"{path} line {line}: column {column!r} is {value!r}; it must be {kind} (or empty)")
    return x


def timestamp(value: Any, path: Path, line: int, column: str) -> float | None:
    """Seconds since the epoch of a time written ``2017-10-07 01:12:09`` (a zone-less time read as UTC).

    None where it is not recorded (empty, None, null).

    Raises:
        TraceError: text that is not such a time, naming file, line and column.
    """
    if value is None or str(value).strip().lower() in MISSING:
        return None
    text = str(value).strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise TraceError(f"{path} line {line}: {column} is {text!r}; it must be a time such as "
                         "2017-10-07 01:12:09 (or empty)") from None  # fmt: skip
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


@dataclass
class Job:
    """One job as an importer keeps it: times in seconds on the trace's clock."""

    id: str
    submit: float
    gpus: int
    duration: float
    tenant: str
    start: float | None = None
    """When the job started in the trace (None: not recorded); :func:`peak_gpus` reads it."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Columns written beside the ones dcsim reads (the trace's status, user, requests it cannot model yet)."""


def whole_gpus(share: float) -> int:
    """GPUs a job holds for a request of ``share`` GPUs: a fraction of one rounds up to a whole one."""
    return max(1, math.ceil(share - 1e-9))


def write_jobs(out: Path, jobs: list[Job], extra: Sequence[str] = ()) -> tuple[Path, dict[str, Any], float]:
    """Write ``jobs.csv`` (sorted by submission, times from the first) and return (file, trace block, t0).

    Columns: ``job_id, submit_s, gpus, duration_s, tenant`` and then ``extra`` (from each
    job's ``extra``; blank where a job has none). The trace block maps the first five.
    """
    jobs = sorted(jobs, key=lambda j: j.submit)
    t0 = jobs[0].submit if jobs else 0.0
    path = out / "jobs.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["job_id", "submit_s", "gpus", "duration_s", "tenant", *extra])
        for j in jobs:
            writer.writerow([j.id, _num(j.submit - t0), j.gpus, _num(j.duration), j.tenant,
                             *(_num(j.extra.get(c, "")) for c in extra)])  # fmt: skip
    block = {
        "path": path.name,
        "columns": {"submit_time": "submit_s", "gpus": "gpus", "duration": "duration_s", "job_id": "job_id",
                    "tenant": "tenant"},
    }  # fmt: skip
    return path, block, t0


def peak_gpus(jobs: Sequence[Job]) -> int:
    """The most GPUs the jobs held at once in the trace (from their recorded starts; 0 if none is recorded)."""
    events = sorted(
        e for j in jobs if j.start is not None for e in ((j.start + j.duration, -j.gpus), (j.start, j.gpus))
    )
    peak = held = 0
    for _, change in events:  # at one instant, ends (negative) come before starts
        held += change
        peak = max(peak, held)
    return peak


def same_speed(site: dict[str, Any]) -> bool:
    """Give every node of a site of several GPU types speed 1, so each job runs for its recorded time.

    Returns:
        Whether the site mixes types (and so was changed).
    """
    groups = site.get("rack_groups") or []
    if len({g["node"]["gpu_type"] for g in groups}) < 2:
        return False
    for g in groups:
        g["node"]["gpu_speed"] = 1.0
    return True


def _num(value: Any) -> Any:
    """A number as the CSV shows it: whole numbers without ``.0``, others as Python prints them (exact)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


NodeKind = tuple[Any, ...]
"""A kind of node: ``(gpus, GPU type)``, or ``(gpus, GPU type, ((field, value), ...))`` with more node fields."""


def site(name: str, nodes: Counter[NodeKind], notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A site of the given nodes: ``{(gpus per node, GPU type[, node fields]): count}``, one rack group per kind.

    Each kind's nodes go in racks of the largest number up to :data:`RACK` that divides
    their count (so the count is exact); ``notes`` adds node fields by GPU type.
    """
    groups = []
    for kind, count in sorted(nodes.items(), key=lambda kv: (-kv[0][0], kv[0][1], str(kv[0][2:]))):
        gpus, gpu_type, *more = kind
        per = max(d for d in range(1, min(RACK, count) + 1) if count % d == 0)
        node: dict[str, Any] = {"gpus": gpus, "gpu_type": gpu_type, **(notes or {}).get(gpu_type, {})}
        node.update(dict(more[0]) if more else {})
        groups.append({"racks": count // per, "nodes_per_rack": per, "node": node})
    if len(groups) == 1:
        return {"name": name, **groups[0]}
    return {"name": name, "rack_groups": groups}


def site_of_gpus(name: str, gpus: int, gpu_type: str, per_node: int = 8) -> dict[str, Any]:
    """A site of ``gpus`` GPUs (rounded up to whole nodes of ``per_node``) of one type."""
    return site(name, Counter({(per_node, gpu_type): max(1, -(-gpus // per_node))}))


def write_scenario(path: Path, comment: str, body: dict[str, Any]) -> Path:
    """Write a scenario: ``comment`` as ``#`` lines, then ``body`` as YAML (in the order given)."""
    import yaml

    head = "".join(f"# {line}".rstrip() + "\n" for line in comment.strip("\n").split("\n"))
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
    path.write_text(head + text, encoding="utf-8")
    return path


def largest_pool(nodes: Counter[NodeKind]) -> int:
    """GPUs of the largest pool (all GPUs of one type: a job runs on one type) of ``{(gpus, type, ...): nodes}``."""
    pools: Counter[str] = Counter()
    for kind, count in nodes.items():
        pools[kind[1]] += kind[0] * count
    return max(pools.values(), default=0)


def too_large(gpus: int) -> str:
    """The reason a job larger than every pool is dropped."""
    return f"needs more GPUs than the largest pool of one GPU type ({gpus:,})"


def fitting(jobs: list[Job], gpus: int, dropped: Counter[str]) -> list[Job]:
    """The jobs that fit a pool of ``gpus`` GPUs (see :func:`largest_pool`); the others counted in ``dropped``."""
    kept = [j for j in jobs if j.gpus <= gpus]
    if len(kept) < len(jobs):
        dropped[too_large(gpus)] += len(jobs) - len(kept)
    return kept


def job_scenario(name: str, description: str, datacenter: dict[str, Any], trace: dict[str, Any]) -> dict[str, Any]:
    """The body of a scenario that replays a job trace on a data center until it drains (no horizon)."""
    return {
        "name": name,
        "description": description,
        "seed": 1,
        "datacenter": {"sites": [datacenter]},
        "workload": {"trace": trace},
        "policies": {"scheduler": "fifo", "placement": "best_fit"},
    }


__all__ = [
    "MISSING", "RACK", "Job", "NodeKind", "csv_rows", "fitting", "job_scenario", "largest_pool", "number", "open_text",
    "peak_gpus", "same_speed", "site", "site_of_gpus", "timestamp", "too_large", "whole_gpus", "write_jobs",
    "write_scenario",
]  # fmt: skip
