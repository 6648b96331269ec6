"""One run of a scenario: simulate, score, and write the results directory atomically."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dcsim
from dcsim.core.files import file_sha256
from dcsim.core.memory import release_free_memory
from dcsim.engine.events import installed_at, installed_gpu_seconds, installed_levels
from dcsim.engine.model import DataCenterModel, ProgressHook
from dcsim.faults.crew import CREW_OVERLOADED, crew_loads, crews
from dcsim.faults.spec import COMPONENTS
from dcsim.infra.sites import SiteTimes, series_fields
from dcsim.metrics.fault_scores import FaultData
from dcsim.metrics.scoring import job_spans, scheduler_metrics, summarize
from dcsim.metrics.service_scores import replica_seconds, replica_spans, replicas_table, service_metrics
from dcsim.metrics.tables import (
    down_table,
    elastic_spans_table,
    epochs_table,
    events_table,
    failures_table,
    interruptions_table,
    jobs_table,
    link_usage_table,
    links_table,
    network_runs_table,
    overhead_table,
    record_table,
    requests_table,
    runs_table,
    sample_rows,
    scaling_table,
    scenario_events_table,
    services_timeline,
    site_failures,
    site_timeseries_table,
    storage_tables,
    timeseries_table,
)
from dcsim.metrics.window import Window
from dcsim.policies.gavel import Gavel
from dcsim.policies.lp import LinearProgram
from dcsim.scenario.schema import Scenario
from dcsim.scenario.tenant_checks import tenant_notes
from dcsim.scenario.unmodelled import default_gpu_notes, unmodelled_notes
from dcsim.workload.distributions import resolve
from dcsim.workload.offered import offered_work
from dcsim.workload.trace import forget_trace, trace_notes

if TYPE_CHECKING:
    import pandas as pd

    from dcsim.core.table import Table


#: Tables written to a results directory, in order.
WRITTEN = (
    "jobs",
    "timeseries",
    "failures",
    "events",
    "epochs",
    "links",
    "requests",
    "replicas",
    "services",
    "scaling",
    "scenario_events",
    "wan_transfers",
    "sites",
    "tenants",
    "fill",
)


@dataclass
class RunResult:
    """Everything one run produced.

    The tables are kept as numpy columns (:class:`dcsim.core.table.Table`); the
    properties ``jobs``, ``timeseries``, ``events``, ``failures``, ``down``, ``epochs`` and ``links``
    give them as pandas DataFrames (made on first use; None if the run has no such table).
    """

    scenario: Scenario
    seed: int
    summary: dict[str, Any]
    wall_time_s: float
    data: dict[str, Table]
    """Tables by name: ``jobs``, ``timeseries``; ``events``, ``failures``, ``down``, ``epochs``, ``links`` if any."""
    overrides: list[str] = field(default_factory=list)
    data_files: dict[str, str] = field(default_factory=dict)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def frame(self, name: str) -> pd.DataFrame | None:
        """Table ``name`` as a pandas DataFrame (None if the run has none)."""
        if name not in self.data:
            return None
        if name not in self._frames:
            self._frames[name] = self.data[name].to_pandas()
        return self._frames[name]

    @property
    def jobs(self) -> pd.DataFrame:
        """One row per job (:func:`dcsim.metrics.tables.jobs_table`)."""
        frame = self.frame("jobs")
        assert frame is not None
        return frame

    @property
    def timeseries(self) -> pd.DataFrame:
        """The sampled timeseries."""
        frame = self.frame("timeseries")
        assert frame is not None
        return frame

    @property
    def events(self) -> pd.DataFrame | None:
        """Every event record (with ``events=True``)."""
        return self.frame("events")

    @property
    def failures(self) -> pd.DataFrame | None:
        """One row per component failure (runs with failures)."""
        return self.frame("failures")

    @property
    def down(self) -> pd.DataFrame | None:
        """GPUs out of service over time (runs with failures)."""
        return self.frame("down")

    @property
    def epochs(self) -> pd.DataFrame | None:
        """One row per epoch of a batch scheduler."""
        return self.frame("epochs")

    @property
    def sites(self) -> pd.DataFrame | None:
        """Each site at each sample: busy GPUs, price, carbon intensity (several sites, or prices that vary)."""
        return self.frame("sites")

    @property
    def links(self) -> pd.DataFrame | None:
        """One row per fabric link: its traffic over the window (runs where a job class communicates)."""
        return self.frame("links")

    def tables(self) -> dict[str, Table]:
        """The tables written to the results directory, by file name (without extension)."""
        return {name: self.data[name] for name in WRITTEN if name in self.data}

    def manifest(self) -> dict[str, Any]:
        """What produced this run: resolved scenario, its hash, seed, versions, wall time."""
        resolved = scenario_json(self.scenario)
        return {
            "scenario": resolved,
            "scenario_hash": scenario_hash(self.scenario, self.data_files),
            "scenario_dir": os.path.abspath(self.scenario.base_dir),
            "data_files": self.data_files,
            "seed": self.seed,
            "overrides": self.overrides,
            "policies": resolved["policies"],
            "dcsim_version": dcsim.__version__,
            "python": platform.python_version(),
            "wall_time_s": round(self.wall_time_s, 3),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(["dcsim", *sys.argv[1:]]) if sys.argv else "",
        }


def scenario_json(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario in engine units (seconds, watts, ...), as JSON data."""
    return scenario.model_dump(mode="json")


def data_files(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of every data file the scenario reads (traces, empirical columns), by path as written."""
    paths = []
    if scenario.workload.trace is not None:
        paths.append(scenario.workload.trace.path)
    if scenario.workload.fill is not None and scenario.workload.fill.trace is not None:
        paths.append(scenario.workload.fill.trace.path)
    if scenario.failures is not None and scenario.failures.trace is not None:
        paths.append(scenario.failures.trace.path)
    for cls in scenario.workload.jobs:
        for spec in (cls.duration, cls.gpus):
            if getattr(spec, "dist", None) == "empirical":
                paths.append(spec.path)  # type: ignore[union-attr]
    paths += [value.series for _, value, _ in series_fields(scenario.costs, scenario.datacenter.sites)]
    for svc in scenario.services:
        req = svc.requests
        for spec in (req.arrival, req.input_tokens, req.output_tokens, svc.service_model.time):
            if getattr(spec, "dist", None) == "empirical" or getattr(spec, "process", None) == "trace":
                paths.append(spec.path)  # type: ignore[union-attr]
    return {path: file_sha256(resolve(scenario.base_dir, path)) for path in sorted(set(paths))}


def scenario_hash(scenario: Scenario, files: dict[str, str] | None = None) -> str:
    """SHA-256 of the resolved scenario without its seed (and ``sweep`` block), and of the data files it reads.

    Results are keyed by (hash, seed): the same hash means the same inputs.

    Args:
        scenario: the resolved scenario.
        files: :func:`data_files` as taken when the run read them (default: now).
    """
    data = scenario_json(scenario)
    data.pop("seed", None)
    data.pop("sweep", None)  # what a sweep varies is in the resolved scenario; its block is not
    data["data_files"] = data_files(scenario) if files is None else files
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_id(seed: int, overrides: Sequence[str] = ()) -> str:
    """Stable id of a run: the seed, and a short hash of the overrides if any."""
    if not overrides:
        return f"seed{seed}"
    digest = hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:8]
    return f"seed{seed}-{digest}"


def class_speeds(model: DataCenterModel) -> dict[str, tuple[float, ...] | None]:
    """Each job class's rate per pool id, as the model gives its jobs (None: 1 everywhere).

    A trace's classes (names no job class has) all take the trace's speeds.
    """
    topology, workload = model.topology, model.scenario.workload

    def rates(spec: Any) -> tuple[float, ...] | None:
        pools = topology.allowed_pools(spec.gpu_types, spec.min_gpu_memory)
        return topology.pool_rates(pools, spec.speed, spec.speed_reference)

    out = {spec.name: rates(spec) for spec in workload.jobs}
    if workload.trace is not None:
        traced = rates(workload.trace)
        for name in model.collector.class_names:
            out.setdefault(name, traced)
    return out


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    progress: ProgressHook | None = None,
    overrides: Sequence[str] = (),
    events: bool = False,
) -> RunResult:
    """Run one scenario and score it.

    Args:
        scenario: the validated scenario.
        seed: the run seed (default: the scenario's).
        progress: called at every timeseries sample.
        overrides: the ``--set`` strings that produced the scenario (for the manifest).
        events: also build the table of every job event (``RunResult.events``).

    Returns:
        The summary, the jobs table and the timeseries.
    """
    if scenario.workload.fill is not None:  # the FGD study's experiment: arrivals only, no engine
        from dcsim.experiment.fill_run import simulate_fill

        t0, files = time.perf_counter(), data_files(scenario)
        summary, tables = simulate_fill(scenario, scenario.seed if seed is None else seed)
        wall = time.perf_counter() - t0
        return RunResult(scenario, summary["run"]["seed"], summary, wall, tables, list(overrides), files)
    t0 = time.perf_counter()
    files = data_files(scenario)  # as the model reads them, just below
    model = DataCenterModel(scenario, seed, progress=progress)
    work = offered_work(scenario, model.topology)  # before the run, which lets the trace's table go
    read_notes = trace_notes(scenario.workload.trace, scenario.base_dir)
    end = model.run()
    # Before the tables are built: let the trace's table go (every job of it is submitted)
    # and give the freed memory back to the system.
    forget_trace()
    release_free_memory()
    col = model.collector
    jobs = jobs_table(col, model.topology, end)
    elastic = elastic_spans_table(col)  # elastic runs' GPU counts over time (None: no elastic job ran)
    window = Window(min(scenario.warmup, end), end)
    faults = None
    if model.track:
        causes = [(c, k) for c, k, _ in scenario.failures.models()] if scenario.failures is not None else []
        spares = scenario.repair.spares.nodes if scenario.repair is not None else 0
        faults = FaultData(
            runs_table(col), overhead_table(col), interruptions_table(col), failures_table(col, model.topology, jobs),
            down_table(col), causes, spares if scenario.failures is not None else 0,
        )  # fmt: skip
    usage = link_usage_table(col)
    serving = None
    if model.services is not None:
        requests = requests_table(col)
        fractions = {s.name: s.gpu_fraction for s in scenario.services if s.gpu_fraction is not None}
        replicas = replicas_table(record_table(col, "replica_change"), col.names["service"], end, fractions)
        shares = {s.name: s.sample for s in scenario.services}
        serving = (requests, replicas, replica_seconds(replicas, window, model.topology, shares))
        spans = replica_spans(replicas, model.topology, shares)
    times = SiteTimes(scenario, until=max(end, scenario.horizon or 0.0))
    site_costs = times.flat_costs(window.start, window.end)  # a varying price as its mean over the window
    levels = installed_levels(scenario, model.topology) if scenario.events else None  # racks come and go
    summary = summarize(
        jobs, window, model.topology.pools, scenario.costs, faults, site_costs, class_speeds(model),
        network_runs_table(col), usage, storage_tables(col) if model.storage is not None else None,
        serving[2] if serving is not None else None,
        installed_gpu_seconds(levels, window.start, window.end) if levels is not None else None,
        times, spans if serving is not None else None, levels, elastic,
    )  # fmt: skip
    if serving is not None:
        summary["services"] = service_metrics(
            serving[0], serving[1], window, scenario.services, model.topology.pools, model.topology.node_pool,
            site_costs, site_failures(col),
        )  # fmt: skip
    if scenario.tenants:
        from dcsim.metrics.tenant_scores import preemptions_by_reason, tenant_metrics

        interrupted = faults.interruptions if faults is not None and len(faults.interruptions) else None
        served = None
        if serving is not None:  # each replica charged to its service's tenant
            tenant_of = {s.name: s.tenant for s in scenario.services}
            service = serving[1].coded("service")
            owner = [tenant_of[service.names[code]] for code in service.codes]
            served = (*spans[:3], owner)
        summary["tenants"], tenants_table = tenant_metrics(
            jobs, window, faults.runs if interrupted is not None else None, interrupted, model.topology.pools,
            scenario.tenants, summary["cost"], elastic, served,
        )  # fmt: skip
        summary["jobs"].update(preemptions_by_reason(jobs, interrupted, window, elastic))
    if model.sharing:  # CPU, memory and fragmentation (dcsim.metrics.sharing_scores)
        from dcsim.metrics.sharing_scores import fold_costs, sharing_metrics

        interrupted = faults is not None and len(faults.interruptions)
        shared, extra = sharing_metrics(
            jobs, window, model.topology.pools, scenario.costs, faults.runs if interrupted else None,  # type: ignore[union-attr]
            col.fragmentation if model.fragmentation is not None else None,
            (serving[1], scenario.services) if serving is not None else None,
        )  # fmt: skip
        summary["utilization"].update(shared)
        fold_costs(summary, extra)
    summary["run"] = {
        "scenario": scenario.name,
        "seed": model.seed,
        "scheduler": scenario.policies.scheduler.name,
        "placement": scenario.policies.placement.name,
    }
    if scenario.policies.fairness is not None:
        summary["run"]["fairness"] = scenario.policies.fairness.name
    routing = model.routing
    if routing is not None:
        from dcsim.metrics.routing_scores import routing_metrics, wan_metrics

        summary["run"]["site_router"] = routing.name
        summary["routing"] = routing_metrics(record_table(col, "job_routed", time="time_s"), window,
                                             model.topology.site_names)  # fmt: skip
        if routing.wan is not None:
            wan_transfers = record_table(col, "wan_transfer", start="start_s", end="end_s")
            summary["wan"] = wan_metrics(wan_transfers, record_table(col, "wan_usage"), window)
    installed = model.topology.n_gpus
    if levels is not None and window.length > 0:
        installed = summary["cluster"]["installed_gpu_hours"] * 3600.0 / window.length  # on average
    offered = work.gpus(scenario.horizon if scenario.horizon is not None else end)
    summary["workload"] = {
        "offered_gpus": offered,
        "offered_load": offered / installed,
        "endless_load": work.endless_gpus / installed,
    }
    loads = crew_loads(scenario, model.topology)
    if loads:
        summary["faults"]["repair_crew_load"] = max(load.load for _, load in loads)  # the most loaded crew's
        summary["faults"]["repair_crew_load_by_site"] = {site: load.load for crew, load in loads for site in crew.sites}
    epochs = None
    if isinstance(model.scheduler, (LinearProgram, Gavel)):
        epochs = epochs_table(model.scheduler.log)
        summary["scheduler"] = scheduler_metrics(epochs, window, model.guard_starts)
    summary["notes"] = read_notes + notes(scenario, summary)
    preempts = model.dispatch.scheduler.preempts or (model.tenancy is not None and model.tenancy.preempts)
    summary["notes"] += tenant_notes(scenario, model.topology.n_gpus, col.tenant_names, preempts)
    if model.stuck_jobs:
        summary["notes"].append(
            f"the run stopped at {end:g} s with {model.stuck_jobs} job(s) queued, nothing running and nothing "
            "arriving: the placement policy never places them; check it and the job sizes"
        )
    samples = col.columns("sample")["time"]
    data = {"jobs": jobs, "timeseries": timeseries_table(
        col, model.topology.n_gpus if levels is None else installed_at(levels, samples))}  # fmt: skip
    if faults is not None and model.rel is not None:
        data["failures"], data["down"] = faults.failures, faults.down
    if events:
        data["events"] = events_table(model.collector)
    if epochs is not None:
        data["epochs"] = epochs
    if routing is not None and routing.wan is not None:
        data["wan_transfers"] = wan_transfers
    if serving is not None:
        requests, replicas, _ = serving
        data["requests"] = sample_rows(requests, scenario.metrics.requests_table_rows)
        data["replicas"] = replicas
        data["services"] = services_timeline(col, requests)
        if len(col.scale_decisions["time"]):
            data["scaling"] = scaling_table(col)
    if scenario.events:
        data["scenario_events"] = scenario_events_table(col)
    if elastic is not None:
        data["elastic_spans"] = elastic
    if scenario.tenants:
        data["tenants"] = tenants_table
    if len(model.topology.site_names) > 1 or times.varies:
        held = [job_spans(jobs, window, faults.runs if faults is not None else None, elastic)[:4]]
        if serving is not None:
            held.append(replica_spans(serving[1], model.topology))  # GPUs held, as the timeseries counts them
        data["sites"] = site_timeseries_table(
            data["timeseries"]["time_s"], held, model.topology, times.price,
            lambda i: times.carbon(i) if times.counts_carbon(i) else None, levels,
        )  # fmt: skip
    network = model.runs.network
    if network is not None:
        fabric = network.fabric
        labels = [fabric.label(link) for link in range(fabric.capacities.size)]
        data["links"] = links_table(usage, fabric.TIERS, labels, window.length)
    wall = time.perf_counter() - t0
    return RunResult(scenario, model.seed, summary, wall, data, list(overrides), files)


def notes(scenario: Scenario, summary: dict[str, Any]) -> list[str]:
    """What a reader of the summary should know: what was not modelled, and signs of a mistake."""
    out = []
    load = summary["workload"]["endless_load"]
    if load > 1:
        out.append(
            f"the job classes without a count offer {f'{load:,.0f}' if load >= 100 else f'{load:.3g}'} times the "
            "installed GPUs: the queue grows "
            "without bound, whatever the policy; check the arrival rates (a bare number is per second)"
        )
    out.extend(default_gpu_notes(scenario))
    window = summary["window"]
    if window["hours"] <= 0:
        out.append(
            f"the run ended at {window['end_s']:g} s, inside the warm-up ({scenario.warmup:g} s): nothing was "
            "measured; shorten the warm-up or give a horizon"
        )
    jobs = summary["jobs"]
    if jobs["submitted"] and jobs["completed"] == 0 and jobs["running_at_end"] == 0:
        cohort = "no job submitted after the warm-up" if scenario.warmup > 0 else "no job"
        out.append(f"{cohort} ever started: check the placement policy and job sizes")
    failures = scenario.failures
    if failures is not None and failures.trace is not None and failures.trace.mode == "replace":
        ignored = [c for c in COMPONENTS if getattr(failures, c) is not None]
        ignored += [c.name for c in failures.causes]
        if ignored:
            out.append(
                f"failures.trace.mode is replace: the random models ({', '.join(ignored)}) were not used; "
                "set mode: add to have both"
            )
    if scenario.repair is not None and scenario.failures is None:
        out.append("a repair block without a failures block has no effect: nothing fails")
    faults = summary["faults"]
    by_site = faults.get("repair_crew_load_by_site", {})
    site_crews = crews(scenario)
    if not any(crew.own for crew in site_crews):  # one crew for every site
        if faults.get("repair_crew_load", 0) > 1:
            out.append(f"the repair crew's load is {100 * faults['repair_crew_load']:.0f} %: {CREW_OVERLOADED}")
    else:  # a note per overloaded crew, naming its site
        for crew in site_crews:
            load = by_site.get(crew.sites[0], 0)
            if load > 1:
                out.append(f"the repair crew's load is {100 * load:.0f} % at {crew.label}: {CREW_OVERLOADED}")
    if faults.get("unrepaired_at_end"):
        out.append(
            f"{faults['unrepaired_at_end']} failure(s) were not repaired by the end: mean_time_to_repair_s "
            "leaves them out, so it underestimates (more technicians, or a longer horizon?)"
        )
    out.extend(unmodelled_notes(scenario))
    return out


def summary_json(summary: dict[str, Any]) -> str:
    """Canonical JSON of a summary: sorted keys, so equal runs give identical bytes."""
    return json.dumps(summary, sort_keys=True, indent=2, allow_nan=False) + "\n"
