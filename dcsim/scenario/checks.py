"""Checks that need the whole validated scenario; each problem carries its path.

Run by :func:`dcsim.scenario.load.load_scenario` after the schema accepted the file,
so that ``dcsim validate`` reports them all at once.
"""

from __future__ import annotations

import os

from dcsim.core.errors import TraceError
from dcsim.infra.topology import Topology, build_topology
from dcsim.scenario.schema import BatchArrival, EmpiricalCount, EmpiricalDist, Scenario
from dcsim.workload.distributions import count_sampler, duration_sampler, resolve
from dcsim.workload.trace import read_trace


def _largest_job(topology: Topology, gpu_types: list[str] | None) -> tuple[int, str]:
    """GPUs of the largest allowed pool, and a description of it."""
    pools = [p for p in topology.pools if gpu_types is None or p.gpu_type in gpu_types]
    if not pools:
        return 0, "no pool"
    best = max(pools, key=lambda p: p.gpus)
    return best.gpus, f"{best.gpus} {best.gpu_type} GPUs in site {best.site}"


def check_scenario(sc: Scenario) -> list[tuple[str, str]]:
    """Return every problem of a schema-valid scenario as ``(path, message)``."""
    problems: list[tuple[str, str]] = []
    topology = build_topology(sc.datacenter)
    types = topology.gpu_types()
    base = sc.base_dir
    for i, cls in enumerate(sc.workload.jobs):
        path = f"workload.jobs.{i}"
        if cls.count is None and sc.horizon is None and not isinstance(cls.arrival, BatchArrival):
            problems.append(
                (f"{path}.count", f"class {cls.name!r} has no `count` and the scenario no `horizon`: "
                 "the run would never end; set one of them")
            )  # fmt: skip
        unknown = sorted(set(cls.gpu_types or []) - set(types))
        if unknown:
            problems.append(
                (f"{path}.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center "
                 f"(types present: {', '.join(types)})")
            )  # fmt: skip
        try:
            _, largest = count_sampler(cls.gpus, base)
        except TraceError as exc:
            problems.append((f"{path}.gpus", str(exc)))
        else:
            room, where = _largest_job(topology, cls.gpu_types)
            if largest > room:
                problems.append(
                    (f"{path}.gpus", f"{largest} GPUs > the largest pool a job of class {cls.name!r} can use "
                     f"({where}); lower it or add racks")
                )  # fmt: skip
        if isinstance(cls.duration, EmpiricalDist):
            try:
                duration_sampler(cls.duration, base)
            except TraceError as exc:
                problems.append((f"{path}.duration", str(exc)))
        if isinstance(cls.gpus, EmpiricalCount) and not os.path.exists(resolve(base, cls.gpus.path)):
            pass  # reported above through count_sampler
    trace = sc.workload.trace
    if trace is not None:
        unknown = sorted(set(trace.gpu_types or []) - set(types))
        if unknown:
            problems.append(("workload.trace.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center"))
        try:
            table = read_trace(trace, base)
        except TraceError as exc:
            problems.append(("workload.trace", str(exc)))
        else:
            room, where = _largest_job(topology, trace.gpu_types)
            too_big = table[table["gpus"] > room]
            if len(too_big):
                row = too_big.iloc[0]
                problems.append(
                    ("workload.trace", f"{resolve(base, trace.path)} line {int(row['line'])}: "
                     f"{int(row['gpus'])} GPUs > the largest pool ({where}); drop the job or add racks")
                )  # fmt: skip
    prices = sc.costs.gpu_hour_usd
    if "*" not in prices:
        missing = sorted(set(types) - set(prices))
        if missing:
            problems.append(
                ("costs.gpu_hour_usd", f"no price for GPU type {', '.join(missing)}; add it, or a '*' default")
            )
    if sc.repair is not None and sc.failures is None:
        problems.append(("repair", "a `repair` block needs a `failures` block (nothing would fail)"))
    return problems
