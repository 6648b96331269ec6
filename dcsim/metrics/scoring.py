"""Scoring: cost, utilization and fault impact as pure functions over tables.

Every metric covers the measured window ``[warmup, end]``: jobs are the *cohort*
submitted at or after the warm-up (``submitted = completed + failed +
running_at_end + queued_at_end``), and time-weighted quantities integrate each job's
interval clipped to the window. The names are a public contract (docs/reference/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dcsim.core.series import Steps, union_edges
from dcsim.core.table import Table
from dcsim.infra.sites import SiteTimes
from dcsim.infra.spec import Costs
from dcsim.infra.topology import Pool
from dcsim.metrics.elastic_scores import elastic_metrics, extra_gpu_seconds, extra_spans
from dcsim.metrics.fault_scores import (
    FaultData,
    fault_metrics,
    nonproductive_by_pool,
    overhead_pools,
    preemption_metrics,
)
from dcsim.metrics.window import (
    Window,
    _mean,
    _number,
    _or,
    _p95,
    binned_gpu_seconds,
    busy_gpu_seconds,
    job_gpus,
    overlap,
)

CONTRACT = (
    "jobs.submitted", "jobs.completed", "jobs.failed", "jobs.running_at_end", "jobs.queued_at_end",
    "jobs.mean_wait_s", "jobs.p95_wait_s", "jobs.mean_jct_s", "jobs.p95_jct_s", "jobs.mean_slowdown",
    "utilization.gpu_allocated", "utilization.gpu_productive", "utilization.gpu_available",
    "cost.total_usd", "cost.capital_usd", "cost.energy_usd", "cost.energy_kwh",
    "cost.usd_per_productive_gpu_hour",
    "faults.failures", "faults.job_interruptions", "faults.lost_gpu_hours", "faults.downtime_gpu_hours",
    "faults.mean_time_to_repair_s", "faults.ettr",
)  # fmt: skip
"""Every name ``summary.json`` must hold: the public contract of docs/reference/metrics.md."""


def job_metrics(jobs: Table, window: Window) -> dict[str, Any]:
    """Counts, waits, JCTs and slowdowns of the cohort submitted in the window."""
    cohort = jobs.rows(jobs["submit_s"] >= window.start)
    state = cohort.coded("state")
    started = ~np.isnan(cohort["start_s"])
    done = state.is_("completed")
    wait = cohort["wait_s"][started]
    jct = cohort["jct_s"][done]
    # Jobs never started have waited at least until the end: a lower bound on the true mean.
    waited = _or(cohort["start_s"], window.end) - cohort["submit_s"]
    return {
        "submitted": len(cohort),
        "started": int(started.sum()),
        "completed": int(done.sum()),
        "failed": int(state.is_("failed").sum()),
        "running_at_end": int(state.is_("running").sum()),
        "queued_at_end": int(state.is_("queued").sum()),
        "mean_wait_s": _mean(wait),
        "p95_wait_s": _p95(wait),
        "mean_wait_incl_queued_s": _mean(waited),
        "mean_jct_s": _mean(jct),
        "p95_jct_s": _p95(jct),
        "mean_slowdown": _mean(cohort["slowdown"][done]),
    }


def class_rates(jobs: Table, n_pools: int, speeds: Mapping[str, Sequence[float] | None]) -> np.ndarray | None:
    """The rate of each job class (by code) in each pool, classes x pools; None if every rate is 1."""
    job_class = jobs.coded("job_class")
    table = np.ones((len(job_class.names), n_pools))
    for code, name in enumerate(job_class.names):
        rates = speeds.get(name)
        if rates is not None:
            table[code] = rates
    return None if (table == 1.0).all() else table


def work_gpu_seconds(
    jobs: Table,
    window: Window,
    rates: np.ndarray,
    runs: Table | None,
    faults: FaultData | None,
    network: Table | None = None,
) -> float:
    """Kept work done inside the window, in GPU-seconds at each job class's reference speed.

    Each run's productive GPU-seconds (allocated less restarts, checkpoint writes and work
    lost, as :func:`fault_metrics` counts them) times its job's rate in the run's pool
    (``rates``: :func:`class_rates`); for a job on the fabric, times the work its runs did
    per second of their steps over that rate (``network``: its runs, with the work they
    did). A job completed inside the window counts ``gpus x duration_s``; a run cut by an
    edge of the window counts its part inside; lost work counts nothing.
    """
    codes = jobs.coded("job_class").codes
    net = np.ones(len(jobs))
    if network is not None and len(network):
        n = len(jobs)
        ids = network["job_id"]
        work = np.bincount(ids, weights=network["work_s"], minlength=n)[:n]
        steps = np.bincount(ids, weights=network["compute_s"], minlength=n)[:n]
        on = (steps > 0) & (jobs["pool"] >= 0)
        speed = rates[codes[on], jobs["pool"][on]]
        net[on] = work[on] / (steps[on] * speed)
    if runs is not None:
        ids = runs["job_id"]
        end = np.where(np.isnan(runs["end_s"]), window.end, runs["end_s"])
        seconds = overlap(runs["start_s"], end, window) * job_gpus(jobs)[ids] * net[ids]
        work = float((seconds * rates[codes[ids], runs["pool"]]).sum())
    else:
        ids = np.flatnonzero(jobs["pool"] >= 0)
        seconds = overlap(jobs["start_s"][ids], _or(jobs["finish_s"][ids], window.end), window) * job_gpus(jobs)[ids]
        seconds = seconds * net[ids]
        work = float((seconds * rates[codes[ids], jobs["pool"][ids]]).sum())
    o = faults.overhead if faults is not None else None
    if o is not None and len(o):
        span = o["end_s"] - o["start_s"]
        share = np.divide(overlap(o["start_s"], o["end_s"], window), span, out=np.zeros_like(span), where=span > 0)
        ids = o["job_id"]
        waste = (o["restart_s"] + o["checkpoint_s"] + o["lost_s"]) * share * job_gpus(jobs)[ids] * net[ids]
        work -= float((waste * rates[codes[ids], overhead_pools(jobs, faults)]).sum())
    return max(work, 0.0)


_COST_PARTS = ("total_usd", "capital_usd", "energy_usd", "energy_kwh")


def flat_energy(
    pools: Sequence[Pool],
    busy: np.ndarray,
    window: Window,
    costs_of: Sequence[Costs],
    share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Facility energy (kWh) and its cost (USD) per pool over the window, at one price per pool.

    ``share``: each pool's installed GPU-time over its GPUs x the window (None: all installed throughout).
    """
    share = np.ones(len(pools)) if share is None else share
    joules = np.array(
        [(len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w) * window.length * share[p.id]
         + (p.gpu_power_w - p.gpu_idle_power_w) * busy[p.id] for p in pools], dtype=float,
    )  # fmt: skip
    kwh = joules * np.array([c.pue for c in costs_of]) / 3.6e6
    return kwh, kwh * np.array([c.electricity_usd_per_kwh for c in costs_of])


def binned_energy(
    pools: Sequence[Pool],
    busy: np.ndarray,
    edges: np.ndarray,
    times: SiteTimes,
    share: np.ndarray | None = None,
    levels: Sequence[Steps] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facility energy (kWh), its cost (USD) and its emissions (kg CO2e) per pool, bin by bin.

    In each bin (within which every price and intensity is constant) a pool draws its idle
    power (nodes' base, idle GPUs) for the bin's length plus each busy GPU's dynamic power for
    the GPU-seconds held in it; times the site's PUE, that bin's price and intensity.

    Args:
        pools: the data center's pools.
        busy: GPU-seconds allocated in each bin, pools x bins.
        edges: the bins' edges, s.
        times: each site's prices and intensities over time.
        share: each pool's installed GPU-time over its GPUs x the window, when timed events add
            or remove racks and ``levels`` is not given: its idle power is spread evenly over the bins
            (None: all installed throughout).
        levels: each pool's installed GPUs over time (their change points among ``edges``): its
            idle power in each bin is that of the GPUs installed then, exactly.

    Returns:
        Per pool: kWh, USD and kg (NaN at a site whose carbon is not counted).
    """
    length = np.diff(edges)
    kwh = np.empty(len(pools))
    usd = np.empty(len(pools))
    kg = np.empty(len(pools))
    for p in pools:
        if levels is not None:
            installed: Any = levels[p.id].bin_values(edges) / p.gpus if p.gpus else 0.0
        else:
            installed = share[p.id] if share is not None else 1.0
        idle_w = (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w) * installed
        joules = idle_w * length + (p.gpu_power_w - p.gpu_idle_power_w) * busy[p.id]
        bins = joules * times.pue(p.site) / 3.6e6
        kwh[p.id] = bins.sum()
        usd[p.id] = (bins * times.price(p.site).bin_values(edges)).sum()
        counted = times.counts_carbon(p.site)
        kg[p.id] = (bins * times.carbon(p.site).bin_values(edges)).sum() / 1000.0 if counted else np.nan
    return kwh, usd, kg


def by_site_and_gpu_type(
    pools: Sequence[Pool],
    busy: np.ndarray,
    nonproductive: np.ndarray,
    window: Window,
    costs_of: Sequence[Costs],
    spare_nodes: int,
    share: np.ndarray | None = None,
    energy: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Cost and utilization per site and per GPU type, from per-pool figures (one bincount per part).

    Args:
        pools: the data center's pools.
        busy: GPU-seconds allocated inside the window, per pool.
        nonproductive: GPU-seconds of that allocation that advanced no kept work, per pool.
        window: the measured window.
        costs_of: the prices of each pool (its site's).
        spare_nodes: spare nodes kept per pool.
        share: each pool's installed GPU-time over its GPUs x the window (racks that timed
            events add or remove; None: all installed throughout).
        energy: each pool's kWh, energy cost (USD) and carbon (kg; NaN: not counted), when
            prices vary over time (default: :func:`flat_energy`, carbon not counted).

    Returns:
        ``{"cost": {"by_site": {site: {total_usd, capital_usd, energy_usd, energy_kwh, carbon_kg}},
        "by_gpu_type": {...}}, "utilization": {"by_site": {site: {gpu_allocated,
        gpu_productive}}, "by_gpu_type": {...}}}``; each utilization is over the group's
        installed GPUs, so the installed-weighted mean of a breakdown is the total; a carbon
        figure of a group with a site whose carbon is not counted is NaN.
    """
    hours = window.length / 3600.0
    price = np.array([c.gpu_hour_price(p.gpu_type) for p, c in zip(pools, costs_of, strict=True)], dtype=float)
    share = np.ones(len(pools)) if share is None else share
    gpus = np.array([p.gpus for p in pools], dtype=float) * share
    per_node = np.array([p.gpus_per_node for p in pools], dtype=float)
    capital = price * gpus * hours + price * spare_nodes * per_node * hours
    if energy is None:
        kwh, energy_usd = flat_energy(pools, busy, window, costs_of, share)
        carbon = np.full(len(pools), np.nan)
    else:
        kwh, energy_usd, carbon = energy
    productive = busy - nonproductive
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {"cost": {}, "utilization": {}}
    for key, names in (("by_site", [p.site for p in pools]), ("by_gpu_type", [p.gpu_type for p in pools])):
        groups = sorted(set(names)) if key == "by_gpu_type" else list(dict.fromkeys(names))
        position = {g: i for i, g in enumerate(groups)}
        index = np.array([position[n] for n in names], dtype=np.int64)

        def total(values: np.ndarray, index: np.ndarray = index, n: int = len(groups)) -> list[float]:
            return np.bincount(index, weights=values, minlength=n).tolist()

        parts = zip(total(capital), total(energy_usd), total(kwh), total(carbon), strict=True)
        out["cost"][key] = {
            g: {**dict(zip(_COST_PARTS, (c + e, c, e, k), strict=True)), "carbon_kg": kg}
            for g, (c, e, k, kg) in zip(groups, parts, strict=True)
        }
        seconds = [n * window.length for n in total(gpus)]
        out["utilization"][key] = {
            g: {
                "gpu_allocated": a / s if s > 0 else 0.0,
                "gpu_productive": max(pr, 0.0) / s if s > 0 else 0.0,
            }
            for g, a, pr, s in zip(groups, total(busy), total(productive), seconds, strict=True)
        }
    return out


def job_spans(jobs: Table, window: Window, runs: Table | None, elastic: Table | None = None) -> tuple[np.ndarray, ...]:
    """Every stretch of GPUs held by a job: ``(start, end, gpus, pool, class code)`` (end NaN: still running).

    From each run when jobs were interrupted, else from each started job's first start to its finish;
    with ``elastic`` spans, each adds what its run held beyond its nominal count (or less: negative).
    """
    codes = jobs.coded("job_class").codes
    if runs is not None and len(runs):
        ids = runs["job_id"]
        out = runs["start_s"], runs["end_s"], job_gpus(jobs)[ids], runs["pool"], codes[ids]
    else:
        ran = jobs["pool"] >= 0
        out = jobs["start_s"][ran], jobs["finish_s"][ran], job_gpus(jobs)[ran], jobs["pool"][ran], codes[ran]
    if elastic is None:
        return out
    return tuple(np.concatenate(pair) for pair in zip(out, extra_spans(elastic, jobs), strict=True))


def summarize(
    jobs: Table,
    window: Window,
    pools: Sequence[Pool],
    costs: Costs,
    faults: FaultData | None = None,
    site_costs: Mapping[str, Costs] | None = None,
    speeds: Mapping[str, Sequence[float] | None] | None = None,
    network: Table | None = None,
    links: Table | None = None,
    storage: tuple[Table, Table] | None = None,
    replicas: tuple[np.ndarray, float] | None = None,
    installed_s: Sequence[float] | None = None,
    times: SiteTimes | None = None,
    replica_spans: tuple[np.ndarray, ...] | None = None,
    levels: Sequence[Steps] | None = None,
    elastic: Table | None = None,
) -> dict[str, Any]:
    """Score one run: every contract metric, plus queue, placement, per-class, per-site and per-GPU-type figures.

    Args:
        jobs: the jobs table (:func:`dcsim.metrics.tables.jobs_table`).
        window: the measured window.
        pools: the data center's pools (installed GPUs, prices by type, power figures).
        costs: prices and PUE.
        faults: runs, overheads, interruptions, failures and downtime (None: nothing failed
            and nothing was checkpointed).
        site_costs: the prices of each site by name (:meth:`Scenario.site_costs`), for sites
            with prices of their own; a site not in it has ``costs``.
        speeds: each job class's rate per pool id (its speed there over its reference type's;
            None or absent: 1 everywhere), for the work done at reference speed.
        network: the runs whose traffic crossed the fabric (:func:`dcsim.metrics.tables.network_runs_table`).
        links: every fabric link's traffic in the window (:func:`dcsim.metrics.tables.link_usage_table`).
        storage: the transfers through storage and the storage links' use in the window
            (:func:`dcsim.metrics.tables.storage_tables`; None: no checkpoint has a size).
        replicas: the GPU-seconds service replicas held in the window, per pool, and those of
            their cold starts (None: no services). They count as allocated (and draw power);
            serving is productive, a cold start is not.
        installed_s: GPU-seconds installed in each pool over the window, when timed events add
            or remove racks (None: every GPU of the pools throughout). Utilizations, availability,
            capital and idle power are over it.
        times: each site's prices and carbon intensity over time (None: the constant prices of
            ``site_costs``, carbon from their ``carbon_g_per_kwh`` where it is a number). Where one
            varies inside the window, energy is integrated bin by bin (:func:`binned_energy`).
        replica_spans: the replicas' ``(start, end, gpus, pool)``, weighted as ``replicas`` is
            (needed when prices vary and there are services).
        levels: GPUs installed in each pool over time, when timed events add or remove racks: with
            prices that vary, idle power is integrated bin by bin against them.
        elastic: the elastic runs' spans at each GPU count (:func:`dcsim.metrics.elastic_scores.elastic_spans_table`;
            None: no elastic job ran): GPU-time counts the GPUs they held.

    Returns:
        Nested by the part of each name before its first dot.
    """
    hours = window.length / 3600.0
    installed = sum(p.gpus for p in pools)
    capacity_s = installed * window.length  # installed GPU-seconds
    share = None
    if installed_s is not None and window.length > 0:
        capacity_s = float(sum(installed_s))
        share = np.array([s / (p.gpus * window.length) for s, p in zip(installed_s, pools, strict=True)])
    runs = faults.runs if faults is not None and len(faults.interruptions) else None
    busy = busy_gpu_seconds(jobs, window, len(pools), runs)
    if elastic is not None:
        busy = busy + extra_gpu_seconds(elastic, jobs, window, len(pools))
    if replicas is not None:
        busy = busy + replicas[0]
    allocated = float(busy.sum()) / capacity_s if window.length > 0 else 0.0
    if faults is not None:
        mean_installed = installed if share is None else capacity_s / window.length
        fault_block, productive_s, available = fault_metrics(
            jobs, faults, window, mean_installed, float(busy.sum()), elastic
        )
    else:
        productive_s, available = float(busy.sum()), 1.0
        fault_block = {
            "failures": 0, "job_interruptions": 0, "lost_gpu_hours": 0.0, "downtime_gpu_hours": 0.0,
            "mean_time_to_repair_s": None, "ettr": 1.0 if busy.sum() > 0 else None,
        }  # fmt: skip
    if replicas is not None:
        productive_s -= replicas[1]
    productive_gpu_h = productive_s / 3600.0
    rates = class_rates(jobs, len(pools), speeds) if speeds else None
    if rates is None and network is not None and len(network):
        rates = np.ones((len(jobs.coded("job_class").names), len(pools)))  # every rate 1, but the fabric slowed some
    work_gpu_h = (
        productive_gpu_h if rates is None else work_gpu_seconds(jobs, window, rates, runs, faults, network) / 3600.0
    )
    spare_nodes = faults.spare_nodes if faults else 0
    spare_gpus = sum(spare_nodes * p.gpus_per_node for p in pools)
    costs_of = [(site_costs or {}).get(p.site, costs) for p in pools]
    nonproductive = nonproductive_by_pool(jobs, faults, window, len(pools), elastic) if faults else np.zeros(len(pools))
    start, end, gpus, pool, code = job_spans(jobs, window, runs, elastic)
    n_classes = len(jobs.coded("job_class").names)
    edges = np.array([window.start, window.end])
    if times is not None and window.length > 0:
        edges = union_edges(window.start, window.end, times.functions())
        if levels is not None and len(edges) > 2:  # racks come and go while prices vary: bins at both
            edges = union_edges(window.start, window.end, [*times.functions(), *levels])
    counted = not np.isnan(_intensities(pools, costs_of, times, window)).any()  # carbon at every site
    held = None
    if counted or len(edges) > 2:
        # GPU-seconds of each class in each pool and bin: a class's carbon is its GPUs' share of its pools' energy.
        held = binned_gpu_seconds(start, end, gpus, code * len(pools) + pool, n_classes * len(pools), edges)
        held = held.reshape(n_classes, len(pools), len(edges) - 1)
    if len(edges) > 2:  # a price or intensity changes inside the window: integrate bin by bin
        assert times is not None and held is not None
        busy_bins = held.sum(axis=0)
        if replicas is not None:
            assert replica_spans is not None, "prices that vary need the replicas' spans"
            r_start, r_end, r_gpus, r_pool = replica_spans
            busy_bins = busy_bins + binned_gpu_seconds(r_start, r_end, r_gpus, r_pool, len(pools), edges)
        energy = binned_energy(pools, busy_bins, edges, times, share, levels)
    else:
        kwh_flat, usd_flat = flat_energy(pools, busy, window, costs_of, share)
        energy = (kwh_flat, usd_flat, kwh_flat * _intensities(pools, costs_of, times, window) / 1000.0)
    parts = by_site_and_gpu_type(pools, busy, nonproductive, window, costs_of, spare_nodes, share, energy)
    carbon_kg = float(energy[2].sum())
    class_carbon = (
        _class_carbon(pools, held, edges, times, costs_of, window) if held is not None and counted
        else np.full(n_classes, np.nan)
    )  # fmt: skip
    if len(edges) <= 2 and all(c == costs for c in costs_of) and share is None:  # one set of prices: as always
        spare_capital = sum(costs.gpu_hour_price(p.gpu_type) * spare_nodes * p.gpus_per_node * hours for p in pools)
        capital = sum(costs.gpu_hour_price(p.gpu_type) * p.gpus * hours for p in pools) + spare_capital
        it_joules = sum(
            (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w) * window.length
            + (p.gpu_power_w - p.gpu_idle_power_w) * busy[p.id]
            for p in pools
        )
        energy_kwh = it_joules * costs.pue / 3.6e6
        energy_usd = energy_kwh * costs.electricity_usd_per_kwh
    else:  # prices differ by site (or racks come and go): the totals are the sums of the sites'
        spare_capital = sum(
            c.gpu_hour_price(p.gpu_type) * spare_nodes * p.gpus_per_node * hours
            for p, c in zip(pools, costs_of, strict=True)
        )
        by_site = parts["cost"]["by_site"].values()
        capital = sum(site["capital_usd"] for site in by_site)
        energy_kwh = sum(site["energy_kwh"] for site in by_site)
        energy_usd = sum(site["energy_usd"] for site in by_site)
    total = capital + energy_usd

    ran = ~np.isnan(jobs["start_s"])
    if runs is None:
        queued_until = _or(jobs["start_s"], window.end)
        queue_area = overlap(jobs["submit_s"], queued_until, window).sum()
        run_area = overlap(jobs["start_s"][ran], _or(jobs["finish_s"][ran], window.end), window).sum()
        queued_now = int((~ran).sum())
    else:
        # Interrupted jobs queue again: queued time = time in the system - time running.
        assert faults is not None
        it = faults.interruptions
        gave_up = np.full(len(jobs), np.nan)
        gave_up[it["job_id"][~it["requeued"]]] = it["time_s"][~it["requeued"]]
        left = _or(_or(jobs["finish_s"], gave_up), window.end)
        run_area = overlap(runs["start_s"], _or(runs["end_s"], window.end), window).sum()
        # A difference of two sums: where jobs never waited, rounding can leave -1e-15 instead of 0.
        queue_area = max(0.0, overlap(jobs["submit_s"], left, window).sum() - run_area)
        queued_now = int(jobs.coded("state").is_("queued").sum())
    cohort_started = jobs.rows(ran & (jobs["submit_s"] >= window.start))

    classes = {}
    job_class = jobs.coded("job_class")
    for code in np.unique(job_class.codes).tolist():  # names sorted: codes follow them
        m = job_metrics(jobs.rows(job_class.codes == code), window)
        classes[job_class.names[code]] = {k: m[k] for k in ("submitted", "completed", "mean_wait_s", "p95_wait_s",
                                                             "mean_jct_s")}  # fmt: skip
        classes[job_class.names[code]]["carbon_kg"] = float(class_carbon[code])

    return _finite({
        "jobs": {**job_metrics(jobs, window), **preemption_metrics(jobs, faults, window, elastic),
                 **(elastic_metrics(elastic, window) if elastic is not None else {})},
        "utilization": {
            "gpu_allocated": allocated,
            "gpu_productive": productive_s / capacity_s if window.length > 0 else 0.0,
            "gpu_available": available,
            **parts["utilization"],
        },
        "cost": {
            "total_usd": total,
            "capital_usd": capital,
            "energy_usd": energy_usd,
            "energy_kwh": energy_kwh,
            "usd_per_productive_gpu_hour": _number(total / productive_gpu_h) if productive_gpu_h else None,
            "usd_per_work_gpu_hour": _number(total / work_gpu_h) if work_gpu_h else None,
            "carbon_kg": carbon_kg,
            "carbon_kg_per_productive_gpu_hour": _number(carbon_kg / productive_gpu_h) if productive_gpu_h else None,
            "unattributed_carbon_kg": carbon_kg - float(class_carbon.sum()),
            "spare_capital_usd": spare_capital,
            **parts["cost"],
        },
        "faults": fault_block,
        "network": network_metrics(jobs, network, links, window),
        "storage": storage_metrics(storage, window),
        "queue": {
            "queued_at_end": queued_now,
            "mean_queued_jobs": float(queue_area / window.length) if window.length > 0 else 0.0,
            "mean_running_jobs": float(run_area / window.length) if window.length > 0 else 0.0,
            "arrival_rate_per_h": int((jobs["submit_s"] >= window.start).sum()) / hours if hours > 0 else 0.0,
        },
        "placement": {
            "multi_node_jobs": int((cohort_started["nodes"] > 1).sum()),
            "cross_rack_jobs": int(cohort_started.coded("locality").is_("cross_rack").sum()),
        },
        "window": {"start_s": window.start, "end_s": window.end, "hours": hours},
        "cluster": {
            "installed_gpus": installed, "nodes": sum(len(p.nodes) for p in pools), "spare_gpus": spare_gpus,
            **({"installed_gpu_hours": capacity_s / 3600.0} if share is not None else {}),
        },
        "classes": classes,
        "sites": site_metrics(jobs, window, pools, times, runs),
    })  # fmt: skip


def _intensities(
    pools: Sequence[Pool], costs_of: Sequence[Costs], times: SiteTimes | None, window: Window
) -> np.ndarray:
    """Each pool's carbon intensity, g/kWh, where it is one number over the window (NaN: not counted)."""
    if times is not None:
        return np.array(
            [times.carbon(p.site).at(window.start) if times.counts_carbon(p.site) else np.nan for p in pools]
        )
    return np.array([c.carbon_g_per_kwh if isinstance(c.carbon_g_per_kwh, float) else np.nan for c in costs_of])


def _class_carbon(
    pools: Sequence[Pool],
    held: np.ndarray,
    edges: np.ndarray,
    times: SiteTimes | None,
    costs_of: Sequence[Costs],
    window: Window,
) -> np.ndarray:
    """Each job class's carbon, kg (NaN: carbon is not counted at some site).

    Its GPU-seconds in each pool and bin x a busy GPU's power and its share of the node's base
    power, x PUE x the bin's intensity. The rest of the total (idle GPUs and their nodes' share,
    service replicas) is ``cost.unattributed_carbon_kg``.

    Args:
        pools: the data center's pools.
        held: GPU-seconds of each class in each pool and bin, classes x pools x bins.
        edges: the bins' edges, s.
        times: each site's intensity over time (None: the constants of ``costs_of``).
        costs_of: each pool's prices.
        window: the measured window.
    """
    out = np.zeros(held.shape[0])
    flat = _intensities(pools, costs_of, times, window) if len(edges) <= 2 else None
    for p in pools:
        if times is not None and len(edges) > 2:
            if not times.counts_carbon(p.site):
                return np.full(held.shape[0], np.nan)
            intensity = times.carbon(p.site).bin_values(edges)
            pue = times.pue(p.site)
        else:
            assert flat is not None
            intensity, pue = np.full(len(edges) - 1, flat[p.id]), costs_of[p.id].pue
        per_gpu_w = p.gpu_power_w + p.base_power_w / p.gpus_per_node
        out += held[:, p.id, :] @ intensity * per_gpu_w * pue / 3.6e6 / 1000.0
    return out


def site_metrics(
    jobs: Table, window: Window, pools: Sequence[Pool], times: SiteTimes | None, runs: Table | None = None
) -> dict[str, Any]:
    """What happened at each site that ``cost.by_site`` and ``utilization.by_site`` do not hold.

    Per site: ``installed_gpus``; of the cohort (submitted in the window), ``jobs_started`` (first
    start there) and ``jobs_completed`` (completed there: by the site of its last run, which
    ``runs`` gives when jobs were interrupted and ran again); the time-weighted mean electricity
    price and carbon intensity over the window (intensity None where carbon is not counted). The
    site's energy, cost, carbon and utilization are in ``cost.by_site.<site>`` and
    ``utilization.by_site.<site>``.
    """
    index = {name: i for i, name in enumerate(dict.fromkeys(p.site for p in pools))}
    site_of_pool = np.array([index[p.site] for p in pools] + [len(index)], dtype=np.int64)
    cohort = jobs.rows(jobs["submit_s"] >= window.start)
    where = site_of_pool[cohort["pool"]]  # pool -1 (never started): no site, the last count
    done = cohort.coded("state").is_("completed")
    if runs is not None and len(runs):
        last = np.asarray(jobs["pool"], dtype=np.int64).copy()
        order = np.argsort(runs["start_s"], kind="stable")[::-1]  # latest first: np.unique keeps each job's first
        ids, first = np.unique(runs["job_id"][order], return_index=True)
        last[ids] = runs["pool"][order][first]
        ended_at = site_of_pool[last[np.asarray(cohort["job_id"], dtype=np.int64)]]
    else:
        ended_at = where
    n = len(index) + 1
    installed = np.bincount(site_of_pool[:-1], weights=[p.gpus for p in pools], minlength=n).tolist()
    started = np.bincount(where, minlength=n).tolist()
    completed = np.bincount(ended_at[done], minlength=n).tolist()
    out: dict[str, Any] = {}
    for name, i in index.items():
        block: dict[str, Any] = {
            "installed_gpus": int(installed[i]),
            "jobs_started": started[i],
            "jobs_completed": completed[i],
        }
        if times is not None:
            block["mean_electricity_usd_per_kwh"] = times.price(name).mean(window.start, window.end)
            block["mean_carbon_g_per_kwh"] = (
                times.carbon(name).mean(window.start, window.end) if times.counts_carbon(name) else None
            )
        out[name] = block
    return out


def network_metrics(jobs: Table, runs: Table | None, links: Table | None, window: Window) -> dict[str, Any]:
    """The fabric's effect: the cohort's mean network slowdown, the traffic carried and the links' load.

    ``mean_job_slowdown``: mean over the cohort's multi-node jobs of their time in steps / the
    same work's time alone on the NICs (1 for a job whose traffic never crossed the fabric;
    None if no multi-node job started);
    ``bytes_moved``: bytes put on the fabric inside the window (a run straddling its edges
    counts pro rata; every hop counted); ``p95_link_utilization`` and
    ``max_link_utilization``: over the fabric's links, each link's traffic over its
    capacity through the window; ``mean_nic_utilization`` and ``mean_uplink_utilization``:
    the NIC links' and the switch-to-switch links' traffic over their capacity (all None without a communicating class).
    """
    cohort = jobs.rows((jobs["submit_s"] >= window.start) & (jobs["nodes"] > 1))
    slowed = np.where(np.isnan(cohort["network_slowdown"]), 1.0, cohort["network_slowdown"])
    moved = 0.0
    if runs is not None and len(runs):
        span = runs["end_s"] - runs["start_s"]
        inside = overlap(runs["start_s"], runs["end_s"], window)
        share = np.divide(inside, span, out=np.zeros_like(span), where=span > 0)
        moved = float((runs["bytes"] * share).sum())
    out: dict[str, Any] = {"mean_job_slowdown": _mean(slowed), "bytes_moved": moved}
    load: dict[str, Any] = dict.fromkeys(
        ("p95_link_utilization", "max_link_utilization", "mean_nic_utilization", "mean_uplink_utilization")
    )
    if links is not None and len(links) and window.length > 0:
        capacity = links["capacity"] * window.length
        used = np.divide(links["bits"], capacity, out=np.zeros_like(capacity), where=capacity > 0)
        load["p95_link_utilization"] = _p95(used)
        load["max_link_utilization"] = float(used.max())
        for code, tier in enumerate(("nic", "uplink")):  # uplink: every switch-to-switch link
            mine = links["tier"] == code if code == 0 else links["tier"] >= code
            total = float(capacity[mine].sum())
            load[f"mean_{tier}_utilization"] = float(links["bits"][mine].sum()) / total if total > 0 else None
    return {**out, **load}


def storage_metrics(storage: tuple[Table, Table] | None, window: Window) -> dict[str, Any]:
    """Checkpoint writes and restart reads through storage, and the storage's load.

    ``checkpoint_writes``: writes completed inside the window (their end in it), a checkpoint or
    the one a maintenance eviction owes; ``mean_checkpoint_write_s`` and ``p95_checkpoint_write_s``:
    their durations as they took under contention; ``mean_write_slowdown``: of each, its duration
    over its time alone on idle storage; ``restart_reads`` and ``mean_restart_read_s``: the same
    for restarts' reads; ``bytes_written`` and ``bytes_read``: moved inside the window (a transfer
    straddling its edges, or cut short, counts pro rata of its time); ``mean_utilization``: the
    sites' storage traffic over their bandwidth through the window; ``busy_fraction``: mean over
    sites of the share of the window with some transfer in progress (service replicas' model loads,
    reads, count in the bytes and the load, not as restart reads); ``max_rack_utilization``:
    the busiest rack's traffic over its ``rack_bandwidth`` (None without rack limits). Without a
    checkpoint with a `size` (``storage`` None; fixed `write` times do not go through storage)
    the counts and bytes are 0 and the rest None.
    """
    out: dict[str, Any] = dict.fromkeys(
        ("checkpoint_writes", "mean_checkpoint_write_s", "p95_checkpoint_write_s", "mean_write_slowdown",
         "restart_reads", "mean_restart_read_s", "bytes_written", "bytes_read", "mean_utilization", "busy_fraction",
         "max_rack_utilization")
    )  # fmt: skip
    out.update(checkpoint_writes=0, restart_reads=0, bytes_written=0.0, bytes_read=0.0)
    if storage is None:
        return out
    transfers, usage = storage
    end = transfers["end_s"]
    took = end - transfers["start_s"]
    done = transfers["completed"] & (end >= window.start) & (end <= window.end)
    read = transfers["read"]
    ckpt = transfers["job_id"] >= 0  # a replica's model load (job -1) is no checkpoint: it counts in bytes and load
    writes, reads = done & ~read & ckpt, done & read & ckpt
    out["checkpoint_writes"], out["restart_reads"] = int(writes.sum()), int(reads.sum())
    out["mean_checkpoint_write_s"], out["p95_checkpoint_write_s"] = _mean(took[writes]), _p95(took[writes])
    idle = transfers["idle_s"][writes]
    out["mean_write_slowdown"] = _mean(np.divide(took[writes], idle, out=np.ones_like(idle), where=idle > 0))
    out["mean_restart_read_s"] = _mean(took[reads])
    inside = overlap(transfers["start_s"], end, window)
    share = np.divide(inside, took, out=np.zeros_like(took), where=took > 0)
    moved = transfers["bytes"] * share
    out["bytes_written"], out["bytes_read"] = float(moved[~read].sum()), float(moved[read].sum())
    if len(usage) and window.length > 0:
        sites = usage["rack"] < 0
        capacity = usage["capacity"] * window.length
        if sites.any():
            out["mean_utilization"] = float(usage["bits"][sites].sum() / capacity[sites].sum())
            out["busy_fraction"] = float(usage["busy_s"][sites].mean() / window.length)
        if (~sites).any():
            out["max_rack_utilization"] = float((usage["bits"][~sites] / capacity[~sites]).max())
    return out


def _finite(node: Any) -> Any:
    """``node`` with every non-finite float (a ratio over a vanishing duration) as None: JSON has no inf."""
    if isinstance(node, dict):
        return {key: _finite(value) for key, value in node.items()}
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def scheduler_metrics(epochs: Table, window: Window, guard_starts: Sequence[float]) -> dict[str, Any]:
    """Epochs of a batch scheduler in the window: how many, how they were solved, what they started.

    Solve times are wall-clock and would differ between identical runs, so they stay in
    ``epochs.parquet`` and out of the summary.
    """
    inside = epochs.rows((epochs["time_s"] >= window.start) & (epochs["time_s"] <= window.end))
    n = len(inside)
    fallbacks = int(inside["fallback"].sum())
    levels, counts = np.unique(inside["level"].astype(str), return_counts=True)
    return {
        "epochs": n,
        "fallbacks": fallbacks,
        "fallback_share": fallbacks / n if n else None,
        "by_level": {str(k): int(v) for k, v in zip(levels.tolist(), counts.tolist(), strict=True)},
        "jobs_started": int(inside["started"].sum()),
        "unplaced": int(inside["unplaced"].sum()),
        "guard_starts": sum(1 for t in guard_starts if window.start <= t <= window.end),
    }


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested summary dicts to dotted names (``jobs.mean_wait_s``)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
