"""Metric names of a run summary, for people: check a name, say it in words, print it with its unit.

The words are the run summary table's (:data:`dcsim.report.console.HEADLINE`); names that
table does not show get words from their own name. Every metric of a summary is
non-negative, and shares of a whole (utilization, ETTR, ``share_of_...``) are at most 1:
:func:`clip` keeps printed and plotted confidence bounds inside those limits.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from dcsim.core.errors import DcsimError
from dcsim.core.units import format_duration
from dcsim.infra.components import NAMES
from dcsim.workload.jobs import PREEMPT_REASONS

#: The headline metrics, in the order a run's summary table prints them: (dotted name, label, kind).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("workload.offered_load", "offered load (GPU demand / installed)", "share"),
    ("jobs.submitted", "jobs submitted", "count"),
    ("jobs.completed", "jobs completed", "count"),
    ("jobs.running_at_end", "running at end", "count"),
    ("jobs.queued_at_end", "queued at end", "count"),
    ("jobs.mean_wait_s", "mean wait", "seconds"),
    ("jobs.p95_wait_s", "p95 wait", "seconds"),
    ("jobs.mean_wait_incl_queued_s", "mean wait, still-queued jobs too (≥)", "seconds"),
    ("jobs.mean_jct_s", "mean job completion time", "seconds"),
    ("jobs.p95_jct_s", "p95 job completion time", "seconds"),
    ("jobs.mean_slowdown", "mean slowdown (JCT / run time)", "ratio"),
    ("jobs.preemptions", "runs preempted by a policy", "count"),
    ("jobs.preempted_gpu_hours", "GPU-hours lost to preemption", "number"),
    ("utilization.gpu_allocated", "GPU utilization (allocated)", "share"),
    ("utilization.gpu_productive", "GPU utilization (productive)", "share"),
    ("utilization.gpu_available", "GPU availability", "share"),
    ("cost.total_usd", "total cost", "usd"),
    ("cost.capital_usd", "  capital (GPU-hours installed)", "usd"),
    ("cost.energy_usd", "  energy", "usd"),
    ("cost.energy_kwh", "energy (facility, incl. PUE)", "kwh"),
    ("cost.carbon_kg", "carbon (kg CO2e)", "number"),
    ("cost.usd_per_productive_gpu_hour", "cost per productive GPU-hour", "usd"),
    ("cost.usd_per_work_gpu_hour", "cost per GPU-hour of work (at reference speed)", "usd"),
    ("network.mean_job_slowdown", "network slowdown of jobs on the fabric", "ratio"),
    ("storage.mean_checkpoint_write_s", "mean checkpoint write (through storage)", "seconds"),
    ("faults.failures", "component failures", "count"),
    ("faults.job_interruptions", "job interruptions", "count"),
    ("faults.lost_gpu_hours", "GPU-hours lost to failures", "number"),
    ("faults.planned_interruptions", "planned interruptions (maintenance)", "count"),
    ("faults.ettr", "effective training time ratio", "share"),
    ("faults.downtime_gpu_hours", "GPU-hours down", "number"),
    ("faults.mean_time_to_repair_s", "mean time to repair", "seconds"),
    ("faults.mean_wait_technician_s", "mean wait for a technician (hands-on)", "seconds"),
    ("faults.repair_crew_load", "repair crew load (hands-on work / crew hours)", "share"),
    ("placement.multi_node_jobs", "multi-node jobs started", "count"),
    ("placement.cross_rack_jobs", "  of them across racks", "count"),
    ("queue.mean_queued_jobs", "mean queue length (jobs)", "number"),
)


SERVICE_FIELDS = (
    "requests", "completed", "rejected", "failed", "unfinished", "mean_latency_s", "p50_latency_s", "p95_latency_s",
    "p99_latency_s", "mean_ttft_s", "p50_ttft_s", "p99_ttft_s", "slo_attainment", "slo_met", "mean_replicas",
    "replica_gpu_hours", "cold_starts", "mean_cold_start_s", "usd_per_million_requests",
)  # fmt: skip
"""The metrics of each service (``services.by_service.<service>.<field>``) and of all of them (``services.<field>``)."""
GEO_SERVICE_FIELDS = ("requests_lost", "time_to_recover_slo_s")
"""The metrics of a service with ``sites`` (and over those services, ``services.<field>``)."""
SITE_FIELDS = (
    "requests", "completed", "rejected", "failed", "mean_latency_s", "p95_latency_s", "p99_latency_s",
    "slo_attainment", "mean_replicas", "replica_gpu_hours", "cold_starts",
)  # fmt: skip
"""The metrics of a service with sites at each site (``services.by_service.<service>.by_site.<site>.<field>``)."""
ORIGIN_FIELDS = ("requests", "completed", "mean_latency_s", "p95_latency_s", "p99_latency_s", "slo_attainment")
"""The metrics of its requests by where their users are (``services.by_service.<service>.by_origin.<site>.<field>``)."""

#: Rows shown for a scenario with services only.
SERVICE_ROWS = (
    ("services.requests", "requests (arrived)", "count"),
    ("services.completed", "  served", "count"),
    ("services.rejected", "  rejected (queue full)", "count"),
    ("services.failed", "  failed (replica lost)", "count"),
    ("services.mean_latency_s", "mean latency", "seconds"),
    ("services.p50_latency_s", "p50 latency", "seconds"),
    ("services.p99_latency_s", "p99 latency", "seconds"),
    ("services.p99_ttft_s", "p99 time to first token", "seconds"),
    ("services.slo_attainment", "SLO attainment (requests within their SLO)", "share"),
    ("services.slo_met", "every SLO objective met (1) or not (0)", "ratio"),
    ("services.mean_replicas", "mean replicas", "number"),
    ("services.replica_gpu_hours", "replica GPU-hours", "number"),
    ("services.cold_starts", "cold starts", "count"),
    ("services.usd_per_million_requests", "cost per million requests served", "usd"),
)

#: Rows shown when a service runs in several sites.
GEO_SERVICE_ROWS = (
    ("services.requests_lost", "  requests lost (rejected or failed)", "count"),
    ("services.time_to_recover_slo_s", "time to recover the SLO after a site failure", "seconds"),
)

#: Rows shown where GPUs are shared (nodes or jobs with CPU, memory, shares of a GPU) only.
SHARING_ROWS = (
    ("utilization.gpu_fragmentation", "GPU fragmentation (FGD, of installed)", "share"),
    ("utilization.cpu_allocated", "CPU utilization (allocated)", "share"),
    ("utilization.memory_allocated", "memory utilization (allocated)", "share"),
)

#: Rows shown for a batch scheduler (``lp``) only.
SCHEDULER_ROWS = (
    ("scheduler.epochs", "scheduling epochs (MILP)", "count"),
    ("scheduler.fallbacks", "  fallbacks (no optimum in time)", "count"),
    ("scheduler.unplaced", "  jobs chosen that did not fit", "count"),
)

#: Rows shown for a fill experiment (``workload.fill``): what its summary holds instead of jobs and costs.
FILL_ROWS = (
    ("fill.pods_arrived", "pods arrived", "count"),
    ("fill.pods_placed", "  placed", "count"),
    ("fill.pods_failed", "  failed (no node had room)", "count"),
    ("fill.arrived_share", "GPU requests arrived / GPU capacity", "share"),
    ("fill.allocation_rate_at_100", "GPU allocation rate at 100 % arrived", "share"),
    ("fill.allocation_rate", "GPU allocation rate at the end", "share"),
    ("fill.unallocated_gpus", "GPUs unallocated at the end", "number"),
    ("fill.gpu_fragmentation_at_0", "GPU fragmentation of the empty cluster", "share"),
    ("fill.gpu_fragmentation_at_100", "GPU fragmentation at 100 % arrived", "share"),
    ("utilization.gpu_fragmentation", "GPU fragmentation at the end", "share"),
    ("fill.failed_gpu_share", "GPU requests of failed pods / GPU capacity", "share"),
    ("utilization.cpu_allocated", "CPU allocated at the end", "share"),
    ("utilization.memory_allocated", "memory allocated at the end", "share"),
)
FILL_FAMILY = "fill.allocation_rate_by_arrived"
"""``fill.allocation_rate_by_arrived.<percent>``: the allocation rate once that share of GPU capacity had arrived."""

#: Every scalar metric of a run summary whose name does not depend on the scenario (flattened).
STATIC_NAMES: tuple[str, ...] = (
    "jobs.submitted", "jobs.started", "jobs.completed", "jobs.failed", "jobs.running_at_end", "jobs.queued_at_end",
    "jobs.mean_wait_s", "jobs.p95_wait_s", "jobs.mean_wait_incl_queued_s", "jobs.mean_jct_s", "jobs.p95_jct_s",
    "jobs.mean_slowdown", "jobs.preemptions", "jobs.preempted_gpu_hours", "jobs.resizes", "jobs.mean_elastic_gpus",
    "utilization.gpu_allocated", "utilization.gpu_productive", "utilization.gpu_available",
    "utilization.cpu_allocated", "utilization.memory_allocated", "utilization.gpu_fragmentation",
    "cost.cpu_usd", "cost.memory_usd",
    "cost.total_usd", "cost.capital_usd", "cost.spare_capital_usd", "cost.energy_usd", "cost.energy_kwh",
    "cost.usd_per_productive_gpu_hour", "cost.usd_per_work_gpu_hour", "cost.carbon_kg",
    "cost.carbon_kg_per_productive_gpu_hour", "cost.unattributed_carbon_kg",
    "network.mean_job_slowdown", "network.bytes_moved", "network.p95_link_utilization",
    "network.max_link_utilization", "network.mean_nic_utilization", "network.mean_uplink_utilization",
    "storage.checkpoint_writes", "storage.mean_checkpoint_write_s", "storage.p95_checkpoint_write_s",
    "storage.mean_write_slowdown", "storage.restart_reads", "storage.mean_restart_read_s", "storage.bytes_written",
    "storage.bytes_read", "storage.mean_utilization", "storage.busy_fraction", "storage.max_rack_utilization",
    "faults.failures", "faults.job_interruptions", "faults.lost_gpu_hours", "faults.downtime_gpu_hours",
    "faults.mean_time_to_repair_s", "faults.ettr", "faults.planned_interruptions", "faults.jobs_failed",
    "faults.unrepaired_at_end", "faults.reboots", "faults.spare_swaps", "faults.mean_wait_technician_s",
    "faults.mean_wait_part_s", "faults.repair_crew_load",
    "queue.queued_at_end", "queue.mean_queued_jobs", "queue.mean_running_jobs", "queue.arrival_rate_per_h",
    "workload.offered_gpus", "workload.offered_load", "workload.endless_load",
    "placement.multi_node_jobs", "placement.cross_rack_jobs",
    "window.start_s", "window.end_s", "window.hours",
    "cluster.installed_gpus", "cluster.nodes", "cluster.spare_gpus", "cluster.installed_gpu_hours",
    "scheduler.epochs", "scheduler.fallbacks", "scheduler.fallback_share", "scheduler.jobs_started",
    "scheduler.unplaced", "scheduler.guard_starts",
    *(f"services.{f}" for f in SERVICE_FIELDS), *(f"services.{f}" for f in GEO_SERVICE_FIELDS),
    "routing.jobs_routed", "routing.deferred_jobs", "routing.mean_deferral_s", "routing.reroutes",
    "wan.transfers", "wan.mean_stage_in_s", "wan.mean_slowdown", "wan.bytes_moved", "wan.max_link_utilization",
    *(f"jobs.preemptions_by_reason.{r}" for r in PREEMPT_REASONS),
    *(f"jobs.preempted_gpu_hours_by_reason.{r}" for r in PREEMPT_REASONS),
    "tenants.jain_index", "tenants.borrowed_gpu_hours",
    *(name for name, _, _ in FILL_ROWS),
)  # fmt: skip

#: A tenant's own figures (``tenants.<tenant>.*``), with a ``tenants`` block.
TENANT_FIELDS = (
    "submitted", "completed", "mean_wait_s", "p95_wait_s", "mean_jct_s", "gpu_hours", "quota_gpu_hours",
    "use_of_quota", "borrowed_gpu_hours", "lent_gpu_hours", "preemptions", "usd",
)  # fmt: skip

_FAULT_FIELDS = ("failures", "interruptions", "share_of_interruptions", "lost_gpu_hours")
_COST_FIELDS = ("total_usd", "capital_usd", "energy_usd", "energy_kwh", "carbon_kg")
#: A site's own figures (``sites.<site>.*``); its cost and utilization are in ``cost.by_site`` and
#: ``utilization.by_site``.
SITE_BLOCK_FIELDS = (
    "installed_gpus", "jobs_started", "jobs_completed", "mean_electricity_usd_per_kwh", "mean_carbon_g_per_kwh",
)  # fmt: skip
_UTILIZATION_FIELDS = ("gpu_allocated", "gpu_productive")
#: Names that hold a job class, a failure cause, a component, a scheduling level, a site or a GPU type:
#: (family, fields).
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("classes.<class>", ("submitted", "completed", "mean_wait_s", "p95_wait_s", "mean_jct_s", "carbon_kg")),
    ("faults.by_cause.<cause>", _FAULT_FIELDS),
    ("faults.by_component.<component>", _FAULT_FIELDS),
    ("scheduler.by_level.<level>", ("",)),
    ("cost.by_site.<site>", _COST_FIELDS),
    ("cost.by_gpu_type.<gpu_type>", _COST_FIELDS),
    ("utilization.by_site.<site>", _UTILIZATION_FIELDS),
    ("utilization.by_gpu_type.<gpu_type>", _UTILIZATION_FIELDS),
    ("faults.repair_crew_load_by_site.<site>", ("",)),
    ("services.by_service.<service>", SERVICE_FIELDS + GEO_SERVICE_FIELDS),
    ("services.by_service.<service>.by_site.<site>", SITE_FIELDS),
    ("services.by_service.<service>.by_origin.<site>", ORIGIN_FIELDS),
    ("routing.by_site.<site>", ("",)),
    ("sites.<site>", SITE_BLOCK_FIELDS),
    ("tenants.<tenant>", TENANT_FIELDS),
)
#: The families named by a site or a GPU type: (first two parts, the fields after the name).
_BREAKDOWNS = {
    ("cost", "by_site"): _COST_FIELDS, ("cost", "by_gpu_type"): _COST_FIELDS,
    ("utilization", "by_site"): _UTILIZATION_FIELDS, ("utilization", "by_gpu_type"): _UTILIZATION_FIELDS,
}  # fmt: skip

_CHOICES = {"<component>": NAMES, "<level>": ("node", "rack", "pool")}

#: Words of the names the run summary table does not show, or shows on an indented row (which reads only
#: under its parent). The others take the table's words.
_WORDS = {
    "cost.capital_usd": "capital cost (GPU-hours installed)",
    "cost.energy_usd": "energy cost",
    "placement.cross_rack_jobs": "multi-node jobs across racks",
    "scheduler.fallbacks": "MILP epochs without an optimum in time",
    "scheduler.unplaced": "jobs the MILP chose that did not fit",
    "jobs.started": "jobs started",
    "jobs.resizes": "resizes of elastic runs (GPU count changed while running)",
    "jobs.mean_elastic_gpus": "mean GPUs an elastic job's run held (time-weighted)",
    "jobs.failed": "jobs failed (submitted after warm-up)",
    "cost.spare_capital_usd": "capital cost of spare nodes",
    "faults.jobs_failed": "jobs given up after max_restarts", "faults.unrepaired_at_end": "failures unrepaired at end",
    "faults.reboots": "failures fixed by a reboot", "faults.spare_swaps": "spare nodes swapped in",
    "faults.mean_wait_part_s": "mean wait for a spare part (hands-on)",
    "queue.queued_at_end": "jobs queued at end (warm-up ones too)", "queue.mean_running_jobs": "mean running jobs",
    "queue.arrival_rate_per_h": "job arrivals per hour", "workload.offered_gpus": "offered GPUs (mean demand)",
    "workload.endless_load": "offered load of endless classes",
    "window.start_s": "measured window start", "window.end_s": "measured window end",
    "window.hours": "measured window (hours)",
    "network.bytes_moved": "bytes carried by the fabric",
    "network.p95_link_utilization": "95th percentile of the links' utilization",
    "network.max_link_utilization": "busiest link's utilization",
    "network.mean_nic_utilization": "NICs' utilization", "network.mean_uplink_utilization": "leaf uplinks' utilization",
    "storage.checkpoint_writes": "checkpoint writes through storage",
    "storage.p95_checkpoint_write_s": "p95 checkpoint write (through storage)",
    "storage.mean_write_slowdown": "checkpoint write time over its time on idle storage",
    "storage.restart_reads": "checkpoint reads at restarts", "storage.mean_restart_read_s": "mean checkpoint read",
    "storage.bytes_written": "bytes written to storage", "storage.bytes_read": "bytes read from storage",
    "storage.mean_utilization": "storage bandwidth utilization",
    "storage.busy_fraction": "share of time storage was in use",
    "storage.max_rack_utilization": "busiest rack's storage utilization",
    "cost.carbon_kg_per_productive_gpu_hour": "carbon per productive GPU-hour (kg CO2e)",
    "cost.unattributed_carbon_kg": "carbon of idle capacity and services (kg CO2e)",
    "tenants.jain_index": "Jain's index of tenants' GPU-hours over quota",
    "tenants.borrowed_gpu_hours": "GPU-hours borrowed beyond quotas",
    "cluster.installed_gpus": "installed GPUs", "cluster.nodes": "nodes", "cluster.spare_gpus": "spare GPUs",
    "cluster.installed_gpu_hours": "GPU-hours installed (racks added or removed by events)",
    "scheduler.fallback_share": "share of MILP epochs without an optimum",
    "scheduler.jobs_started": "jobs the MILP started", "scheduler.guard_starts": "jobs started by the idle guard",
    "routing.jobs_routed": "jobs routed to a site", "routing.deferred_jobs": "jobs held back for a better moment",
    "routing.mean_deferral_s": "mean time held back (of those held back)",
    "routing.reroutes": "lost jobs routed again", "wan.transfers": "data transfers over the WAN",
    "wan.mean_stage_in_s": "mean data transfer over the WAN (stage-in)",
    "wan.mean_slowdown": "WAN transfer time over its time on an idle path",
    "wan.bytes_moved": "bytes moved over the WAN", "wan.max_link_utilization": "busiest WAN link's utilization",
}  # fmt: skip
_BREAKDOWN_WORDS = {
    "total_usd": "total cost", "capital_usd": "capital cost", "energy_usd": "energy cost",
    "energy_kwh": "energy (facility, incl. PUE)", "carbon_kg": "carbon (kg CO2e)",
    "gpu_allocated": "GPU utilization (allocated)", "gpu_productive": "GPU utilization (productive)",
}  # fmt: skip


def _family_match(name: str) -> bool:
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "classes":
        return bool(parts[1]) and parts[2] in FAMILIES[0][1]
    if len(parts) == 4 and parts[:2] == ["faults", "by_cause"]:
        return bool(parts[2]) and parts[3] in _FAULT_FIELDS
    if len(parts) == 4 and parts[:2] == ["faults", "by_component"]:
        return parts[2] in _CHOICES["<component>"] and parts[3] in _FAULT_FIELDS
    if len(parts) == 4 and (parts[0], parts[1]) in _BREAKDOWNS:
        return bool(parts[2]) and parts[3] in _BREAKDOWNS[parts[0], parts[1]]
    if len(parts) == 3 and parts[:2] in (["faults", "repair_crew_load_by_site"], ["routing", "by_site"]):
        return bool(parts[2])
    if len(parts) == 3 and parts[0] == "sites":
        return bool(parts[1]) and parts[2] in SITE_BLOCK_FIELDS
    if len(parts) == 3 and parts[0] == "tenants":
        return bool(parts[1]) and parts[2] in TENANT_FIELDS
    if len(parts) == 4 and parts[:2] == ["services", "by_service"]:
        return bool(parts[2]) and parts[3] in SERVICE_FIELDS + GEO_SERVICE_FIELDS
    if len(parts) == 6 and parts[:2] == ["services", "by_service"] and parts[3] in ("by_site", "by_origin"):
        fields = SITE_FIELDS if parts[3] == "by_site" else ORIGIN_FIELDS
        return bool(parts[2]) and bool(parts[4]) and parts[5] in fields
    if len(parts) == 3 and ".".join(parts[:2]) == FILL_FAMILY:
        return parts[2].isdigit()
    return len(parts) == 3 and parts[:2] == ["scheduler", "by_level"] and parts[2] in _CHOICES["<level>"]


def is_metric(name: str) -> bool:
    """True if ``name`` is a metric a run summary can hold (classes and causes by any name)."""
    return name in STATIC_NAMES or _family_match(name)


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_metric(name: str, flag: str) -> str:
    """Return ``name`` if a run summary can hold it; else raise, naming ``flag`` and the nearest names.

    Args:
        name: a dotted metric name, e.g. ``jobs.p95_wait_s``.
        flag: the argument it came from, for the message (``--target``, ``--metric``).

    Raises:
        DcsimError: not a metric of a run summary; the message suggests the closest names.
    """
    if is_metric(name):
        return name
    candidates = list(STATIC_NAMES)
    group = name.rsplit(".", 1)[0]
    for family, fields in FAMILIES:  # a class or cause with a misspelled field: offer that family's fields
        if name.startswith(family.rsplit(".", 1)[0] + ".") and fields != ("",):
            candidates += [f"{group}.{f}" for f in fields]
    close = difflib.get_close_matches(name, candidates, n=2, cutoff=0.6)
    if not close:  # the right field under a wrong group (cost.p95_wait_s): match on the last part
        fields = difflib.get_close_matches(name.rsplit(".", 1)[-1], [n.rsplit(".", 1)[-1] for n in STATIC_NAMES],
                                           n=2, cutoff=0.7)  # fmt: skip
        close = [n for n in STATIC_NAMES if n.rsplit(".", 1)[-1] in fields][:2]
    hint = f"did you mean {' or '.join(repr(_cut(c)) for c in close)}? " if close else ""
    shown = _cut(name)
    raise DcsimError(f"{flag}: {shown!r} is not a metric of a run summary; {hint}"
                     "the names are in docs/reference/metrics.md")  # fmt: skip


def check_parts(names: list[str], flag: str, sites: list[str], gpu_types: list[str]) -> None:
    """Refuse a per-site or per-GPU-type metric of a site or type the scenario does not have.

    Raises:
        DcsimError: naming the metric, the unknown part and the ones there are.
    """
    for name in names:
        parts = name.split(".")
        if len(parts) >= 3 and parts[1] in ("by_site", "by_gpu_type"):
            what, there, known = (
                ("site", parts[2], sites) if parts[1] == "by_site" else ("GPU type", parts[2], gpu_types)
            )
        elif len(parts) == 3 and parts[:2] in (["faults", "repair_crew_load_by_site"], ["routing", "by_site"]):
            what, there, known = "site", parts[2], sites
        else:
            continue
        if there not in known:
            raise DcsimError(f"{flag}: {_cut(name)!r}: the scenario has no {what} {_cut(there)!r} "
                             f"({what}s: {', '.join(known)})")  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """A metric for people: ``label`` in words, ``kind`` (how it prints), physical ``low`` and ``high`` bounds."""

    name: str
    label: str
    kind: str
    low: float = 0.0
    high: float = math.inf


_NUMBERS = ("lost_gpu_hours", "downtime_gpu_hours", "offered_gpus", "mean_queued_jobs", "mean_running_jobs",
            "arrival_rate_per_h", "hours", "mean_elastic_gpus", "gpu_hours", "quota_gpu_hours", "borrowed_gpu_hours",
            "lent_gpu_hours", "preempted_gpu_hours")  # fmt: skip


def _kind_from_name(name: str) -> str:
    """How a metric the run summary table does not show prints, from its name (counts unless it says otherwise)."""
    if name.startswith("faults.repair_crew_load_by_site."):
        return "share"
    last = name.rsplit(".", 1)[-1]
    if last.endswith("_s"):
        return "seconds"
    if last.endswith("_usd") or last.startswith("usd_"):
        return "usd"
    if last.endswith("_kwh"):
        return "kwh"
    if "share" in last or name.startswith("utilization.") or last in ("ettr", "offered_load", "endless_load"):
        return "share"
    if name.startswith(("storage.", "wan.")) and ("utilization" in last or "fraction" in last):
        return "share"
    if last in _NUMBERS or name.startswith("storage.bytes_") or name == "wan.bytes_moved":
        return "number"
    if name.startswith("jobs.preempted_gpu_hours_by_reason."):
        return "number"
    return "ratio" if last in ("mean_slowdown", "mean_write_slowdown", "jain_index", "use_of_quota") else "count"


def _words(name: str) -> str:
    """Words from a name: ``classes.research.p95_wait_s`` -> ``p95 wait (research)``."""
    parts = name.split(".")
    last = re.sub(r"_(s|usd|kwh)$", "", parts[-1]).replace("_", " ")
    last = last.replace("gpu", "GPU").replace("jct", "job completion time").replace("ettr", "ETTR")
    if parts[0] == "classes" and len(parts) == 3:
        return f"{last} ({parts[1]} jobs)"
    if parts[0] == "tenants" and len(parts) == 3:
        return f"{last} (tenant {parts[1]})"
    if parts[1:2] in (["preemptions_by_reason"], ["preempted_gpu_hours_by_reason"]) and len(parts) == 3:
        return f"{'runs preempted' if parts[1] == 'preemptions_by_reason' else 'GPU-hours lost'} for {parts[2]}"
    if parts[:2] == ["faults", "by_cause"] and len(parts) == 4:
        return f"{last} (cause {parts[2]})"
    if parts[:2] == ["faults", "by_component"] and len(parts) == 4:
        return f"{last} ({parts[2]} failures)"
    if parts[:2] == ["scheduler", "by_level"]:
        return f"scheduling epochs at {parts[2]} level"
    if parts[:2] == ["services", "by_service"] and len(parts) == 4:
        return f"{last} (service {parts[2]})"
    if parts[:2] == ["faults", "repair_crew_load_by_site"] and len(parts) == 3:
        return f"repair crew load (site {parts[2]})"
    if parts[:2] == ["routing", "by_site"] and len(parts) == 3:
        return f"jobs routed to site {parts[2]}"
    if len(parts) == 4 and (parts[0], parts[1]) in _BREAKDOWNS:
        group = "site" if parts[1] == "by_site" else "GPU type"
        return f"{_BREAKDOWN_WORDS[parts[3]]} ({group} {parts[2]})"
    return last


def describe(name: str) -> Metric:
    """Words, print kind and physical bounds of a metric (from the run summary table where it has a row)."""
    rows = {n: (label, kind) for n, label, kind in (*HEADLINE, *SCHEDULER_ROWS, *SERVICE_ROWS, *GEO_SERVICE_ROWS,
                                                    *FILL_ROWS)}  # fmt: skip
    if name.startswith(FILL_FAMILY + ".") and name.rsplit(".", 1)[-1].isdigit():
        rows[name] = (f"GPU allocation rate at {name.rsplit('.', 1)[-1]} % arrived", "share")
    if name in rows:
        label, kind = rows[name]
        label = _WORDS.get(name, label.strip())
    else:
        label, kind = _WORDS.get(name) or _words(name), _kind_from_name(name)
    last = name.rsplit(".", 1)[-1]
    loads = ("offered_load", "endless_load", "repair_crew_load", "arrived_share", "failed_gpu_share")
    whole = kind == "share" and last not in loads and not name.startswith("faults.repair_crew_load_by_site.")
    return Metric(name, label, kind, 0.0, 1.0 if whole else math.inf)


def clip(metric: Metric, value: float) -> float:
    """``value`` kept within the metric's physical bounds (NaN stays NaN)."""
    if math.isnan(value):
        return value
    return min(max(value, metric.low), metric.high)


_DURATION_SCALES = (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86400.0))


def duration_unit(seconds: float) -> tuple[str, float]:
    """The unit (and its length in seconds) that ``format_duration`` would print ``seconds`` in."""
    text = format_duration(abs(seconds)) if math.isfinite(seconds) else "0 s"
    unit = text.rsplit(" ", 1)[-1]
    return unit, dict(_DURATION_SCALES)[unit]


def _share_decimals(values: list[float]) -> int:
    """Decimals of a percentage that tell the values apart (1; more near 0 or 100 % or for a narrow interval)."""
    pct = [100 * v for v in values]
    spread = max(pct) - min(pct)
    digits = 1 if spread == 0 or spread >= 0.5 else 2 if spread >= 0.05 else 3
    if any(99.5 < p < 100 or 0 < p < 0.5 for p in pct):
        digits = max(digits, 2)
    return digits


def format_values(metric: Metric, values: list[float]) -> tuple[list[str], str]:
    """Numbers of one metric in one unit, chosen for the largest: (the numbers, the unit after them).

    The unit is ``''`` for counts and plain numbers, ``'$'`` goes before the number (a prefix).
    """
    finite = [v for v in values if math.isfinite(v)]
    top = max((abs(v) for v in finite), default=0.0)
    kind = metric.kind
    if kind == "seconds":
        unit, scale = duration_unit(top)
        digits = 1 if unit in ("s", "min") else 2
        return [_num(v / scale, digits) for v in values], unit
    if kind == "share":
        d = _share_decimals(finite or [0.0])
        return [_num(100 * v, d) for v in values], "%"
    if kind == "usd":
        if top >= 1e6:
            return [_num(v / 1e6, 2) for v in values], "$M"
        return [_num(v, 0 if top >= 1e4 else 2) for v in values], "$"
    if kind == "kwh":
        return [_num(v, 0) for v in values], "kWh"
    if kind == "count" and all(v == int(v) for v in finite):
        return [_num(v, 0) for v in values], ""
    if kind == "count":
        return [_num(v, 1) for v in values], ""
    return [_sig(v) for v in values], ""


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}" if math.isfinite(value) else "-"


def _sig(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def with_unit(text: str, unit: str) -> str:
    """``12.5`` and ``min`` -> ``12.5 min``; dollars go in front (``$ 1.25M``)."""
    if unit == "$":
        return f"$ {text}"
    if unit == "$M":
        return f"$ {text}M"
    return f"{text} {unit}" if unit else text


def format_interval(metric: Metric, mean: float, low: float, high: float) -> str:
    """``52.1 min (95 % interval 41.2-63.0 min)``: one unit for all three, bounds clipped to the metric's range."""
    low, high = clip(metric, low), clip(metric, high)
    (m, lo, hi), unit = format_values(metric, [mean, low, high])
    if math.isnan(low) or math.isnan(high):
        return with_unit(m, unit) + " (no interval: fewer than 2 runs)"
    if low == high == mean:
        return with_unit(m, unit) + " in every run"
    if unit == "$":
        return f"$ {m} (95 % interval $ {lo} to $ {hi})"
    if unit == "$M":
        return f"$ {m}M (95 % interval $ {lo}M to $ {hi}M)"
    return f"{with_unit(m, unit)} (95 % interval {lo} to {with_unit(hi, unit)})"


def format_one(metric: Metric, value: float) -> str:
    """One value with its unit."""
    (text,), unit = format_values(metric, [value])
    return with_unit(text, unit)


__all__ = [
    "FAMILIES",
    "STATIC_NAMES",
    "TENANT_FIELDS",
    "Metric",
    "check_metric",
    "check_parts",
    "clip",
    "describe",
    "duration_unit",
    "format_interval",
    "format_one",
    "format_values",
    "is_metric",
    "with_unit",
]
