"""Scores of the inference services: requests, latency, SLO attainment, replicas and what they cost.

Pure functions over the run's request, replica and sample records (:mod:`dcsim.metrics.records`).
A request counts in the window when it *arrived* in it; requests still in flight at the end
(status ``unfinished``) count as arrived but neither as served nor as missing their SLO. A
replica's GPU time counts from its placement (its cold start included) to its end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dcsim.core.table import Coded, Table
from dcsim.infra.spec import Costs
from dcsim.infra.topology import Pool
from dcsim.metrics.names import ORIGIN_FIELDS, SITE_FIELDS
from dcsim.metrics.names import SERVICE_FIELDS as FIELDS
from dcsim.metrics.records import REPLICA_CHANGES, REQUEST_STATUS
from dcsim.metrics.window import Window, overlap

_PLACED, _READY, _STOPPED, _LOST = (REPLICA_CHANGES.index(c) for c in ("placed", "ready", "stopped", "lost"))


def replicas_table(
    changes: Table, names: Sequence[str], end: float, fractions: Mapping[str, float] | None = None
) -> Table:
    """One row per replica that got GPUs: when it was placed, ready and ended, how, where, with how many GPUs.

    Columns: ``service`` (coded), ``replica``, ``placed_s``, ``ready_s`` (NaN: never ready),
    ``end_s`` (the end of the run if it was still up), ``ended`` (``stopped``, ``lost`` or
    ``running``), ``node`` (its first node), ``gpus`` (a replica on a share of one GPU: its
    share, from ``fractions``, each service's ``gpu_fraction``).
    """
    svc = changes.coded("service").codes
    rep = changes["replica"]
    change = changes["change"]
    time = changes["time"]
    key = svc.astype(np.int64) * (1 << 40) + rep
    placed = np.flatnonzero(change == _PLACED)
    order = np.argsort(key[placed], kind="stable")
    rows = placed[order]
    k = key[rows]

    def at(kind_mask: np.ndarray, default: float) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(kind_mask)
        out = np.full(rows.size, default)
        how = np.full(rows.size, -1, dtype=np.int64)
        if idx.size:
            pos = np.searchsorted(k, key[idx])
            ok = (pos < k.size) & (k[np.minimum(pos, k.size - 1)] == key[idx])
            out[pos[ok]] = time[idx[ok]]
            how[pos[ok]] = change[idx[ok]]
        return out, how

    ready, _ = at(change == _READY, math.nan)
    ends, how = at(((change == _STOPPED) | (change == _LOST)) & (changes["node"] >= 0), end)
    ended = np.where(how == _LOST, 1, np.where(how == _STOPPED, 0, 2)).astype(np.int32)
    gpus = changes["gpus"][rows]
    if fractions:
        share = np.ones(len(names))
        for name, fraction in fractions.items():
            if name in names:
                share[list(names).index(name)] = fraction
        gpus = gpus * share[svc[rows]]
    return Table({
        "service": Coded(svc[rows].astype(np.int32), tuple(names)),
        "replica": rep[rows],
        "placed_s": time[rows],
        "ready_s": ready,
        "end_s": ends,
        "ended": Coded(ended, ("stopped", "lost", "running")),
        "node": changes["node"][rows],
        "gpus": gpus,
    })  # fmt: skip


def replica_seconds(
    reps: Table, window: Window, topology: Any, shares: Mapping[str, float] | None = None
) -> tuple[np.ndarray, float]:
    """GPU-seconds the replicas held inside the window, per pool; and those of their cold starts (placed to ready).

    ``shares``: each service's ``sample``; a sampled fleet's replicas count for the whole fleet (1 / share each).
    """
    pools = replica_spans(reps, topology, shares)[3]
    weight = _weights(reps.coded("service"), shares)
    held = overlap(reps["placed_s"], reps["end_s"], window) * reps["gpus"] * weight
    ready = np.where(np.isnan(reps["ready_s"]), reps["end_s"], np.minimum(reps["ready_s"], reps["end_s"]))
    cold = overlap(reps["placed_s"], ready, window) * reps["gpus"] * weight
    return np.bincount(pools, weights=held, minlength=len(topology.pools)), float(cold.sum())


def replica_spans(
    reps: Table, topology: Any, shares: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each replica's ``(placed, end, GPUs, pool)``, its GPUs weighted as :func:`replica_seconds` weighs them."""
    pools = np.asarray(topology.node_pool, dtype=np.int64)[reps["node"]] if len(reps) else np.zeros(0, np.int64)
    gpus = reps["gpus"] * _weights(reps.coded("service"), shares)
    return reps["placed_s"], reps["end_s"], gpus, pools


def _weights(service: Coded, shares: Mapping[str, float] | None) -> np.ndarray:
    """1 / the share of each row's service (1 for every row without sampling)."""
    out = np.ones(len(service))
    for name, share in (shares or {}).items():
        if share != 1.0:
            out[service.is_(name)] = 1.0 / share
    return out


_COUNTS = ("requests", "completed", "rejected", "failed", "unfinished", "cold_starts")
_AMOUNTS = ("mean_replicas", "replica_gpu_hours")


def _scaled(scores: dict[str, Any], share: float) -> dict[str, Any]:
    """A sampled service's scores for its whole fleet: counts and amounts over the share; the rest as measured."""
    if share == 1.0:
        return scores
    out = dict(scores)
    for key in _COUNTS:
        out[key] = round(scores[key] / share)
    for key in _AMOUNTS:
        out[key] = scores[key] / share
    return out


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The q-th percentile of values with weights (the smallest value whose cumulative weight reaches q %)."""
    if not values.size:
        return None
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q / 100.0 * cum[-1], side="left")])


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def slo_met(req: Table, rows: np.ndarray, objectives: Sequence[tuple[str, float, float]]) -> float | None:
    """1 when every objective holds over the ended requests ``rows``, else 0 (None: no objective, or none ended).

    A rejected or failed request counts with an infinite latency and time to first token (it was
    never served), a request still in flight at the end not at all.
    """
    status = req.coded("status").codes[rows]
    ended = status != REQUEST_STATUS.index("unfinished")
    if not objectives or not ended.any():
        return None
    served = status[ended] == REQUEST_STATUS.index("completed")
    values = {
        "latency": np.where(served, req["latency_s"][rows][ended], math.inf),
        "ttft": np.where(served, np.nan_to_num(req["first_token_s"][rows][ended] - req["arrival_s"][rows][ended],
                                                nan=math.inf), math.inf),
    }  # fmt: skip
    met = all(np.percentile(values[what], q, method="higher") <= bound for what, q, bound in objectives)
    return 1.0 if met else 0.0


def _scores(
    req: Table, rows: np.ndarray, reps: Table, reps_rows: np.ndarray, window: Window, bounds: tuple[float, float],
    tokens: bool, usd_per_gpu_hour: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """The metrics of the requests ``rows`` and the replicas ``reps_rows`` (one service, or all)."""
    status = req.coded("status").codes[rows]
    arrival = req["arrival_s"][rows]
    latency = req["latency_s"][rows]
    ttft = req["first_token_s"][rows] - arrival
    done = status == REQUEST_STATUS.index("completed")
    ended = status != REQUEST_STATUS.index("unfinished")
    lat = latency[done]
    out: dict[str, Any] = {
        "requests": int(rows.size),
        "completed": int(done.sum()),
        "rejected": int((status == REQUEST_STATUS.index("rejected")).sum()),
        "failed": int((status == REQUEST_STATUS.index("failed")).sum()),
        "unfinished": int((~ended).sum()),
        "mean_latency_s": _mean(lat),
        "p50_latency_s": _percentile(lat, 50),
        "p95_latency_s": _percentile(lat, 95),
        "p99_latency_s": _percentile(lat, 99),
    }
    first = ttft[done]
    first = first[~np.isnan(first)]
    out["mean_ttft_s"] = _mean(first) if tokens else None
    out["p50_ttft_s"] = _percentile(first, 50) if tokens else None
    out["p99_ttft_s"] = _percentile(first, 99) if tokens else None
    lat_bound, ttft_bound = bounds
    met = done & (latency <= lat_bound)
    if tokens and ttft_bound < math.inf:
        met &= np.nan_to_num(ttft, nan=math.inf) <= ttft_bound
    bounded = lat_bound < math.inf or (tokens and ttft_bound < math.inf)
    out["slo_attainment"] = float(met.sum() / ended.sum()) if ended.any() and bounded else None
    placed = reps["placed_s"][reps_rows]
    gone = reps["end_s"][reps_rows]
    held = overlap(placed, gone, window)
    gpu_s = held * reps["gpus"][reps_rows]
    out["mean_replicas"] = float(held.sum() / window.length) if window.length > 0 else 0.0
    out["replica_gpu_hours"] = float(gpu_s.sum() / 3600.0)
    cold = (placed > 0.0) & (placed >= window.start) & (placed <= window.end)
    out["cold_starts"] = int(cold.sum())
    ready = reps["ready_s"][reps_rows][cold]
    waited = ready[~np.isnan(ready)] - placed[cold][~np.isnan(ready)]
    out["mean_cold_start_s"] = _mean(waited)
    cost = float((gpu_s / 3600.0 * usd_per_gpu_hour[reps_rows]).sum())
    out["usd_per_million_requests"] = cost / out["completed"] * 1e6 if out["completed"] else None
    return out


RECOVERY_WINDOW_S = 60.0
"""The window over which ``time_to_recover_slo_s`` checks the SLO after a site failure, s."""


def time_to_recover(
    req: Table, rows: np.ndarray, objectives: Sequence[tuple[str, float, float]], failures: Sequence[float],
    end: float, window_s: float = RECOVERY_WINDOW_S,
) -> float | None:  # fmt: skip
    """After each failure, the time until the SLO holds again over a window; the longest over ``failures``.

    From each failure time on, the requests ``rows`` are cut into windows of ``window_s`` by
    arrival time; the SLO holds in a window when every objective holds over the requests that
    arrived in it and ended (:func:`slo_met`: a rejected or failed request counts as beyond
    every bound); a window without such requests decides nothing. A failure's time to recover
    is the start of the first window where the SLO holds, minus the failure time (0: it never
    broke). None: no objective, no failure, or the SLO did not hold again before the end.
    """
    if not objectives or not failures:
        return None
    arrival = req["arrival_s"][rows]
    order = np.argsort(arrival, kind="stable")
    rows, arrival = rows[order], arrival[order]
    worst = 0.0
    for t0 in failures:
        k = 0
        recovered = None
        while t0 + k * window_s < end:
            lo, hi = np.searchsorted(arrival, [t0 + k * window_s, t0 + (k + 1) * window_s], side="left")
            met = slo_met(req, rows[lo:hi], objectives) if hi > lo else None
            if met == 1.0:
                recovered = k * window_s
                break
            k += 1
        if recovered is None:
            return None
        worst = max(worst, recovered)
    return worst


def _geo_scores(
    req: Table, rows: np.ndarray, reps: Table, reps_rows: np.ndarray, window: Window, spec: Any, price: np.ndarray,
    site_names: Sequence[str], node_site: np.ndarray, failures: Sequence[tuple[float, int]],
) -> dict[str, Any]:  # fmt: skip
    """A service with sites: requests lost, time to recover its SLO after a failure of one of them, and per site."""
    status = req.coded("status").codes[rows]
    lost = (status == REQUEST_STATUS.index("rejected")) | (status == REQUEST_STATUS.index("failed"))
    objectives = [o for o in spec.slo.objectives() if o[0] == "latency" or spec.service_model.tokens]
    mine = [site_names.index(s) for s in spec.sites]
    hits = [t for t, site in failures if site in mine and window.start <= t <= window.end]
    out: dict[str, Any] = {
        "requests_lost": int(lost.sum()),  # the caller makes it rejected + failed over the whole fleet
        "time_to_recover_slo_s": time_to_recover(req, rows, objectives, hits, window.end),
    }
    bounds, tokens = spec.slo.bounds(), spec.service_model.tokens
    none = np.zeros(0, dtype=np.int64)
    by_site, by_origin = {}, {}
    for i in mine:
        name = site_names[i]
        here = _scores(req, rows[req["site"][rows] == i], reps, reps_rows[node_site[reps_rows] == i], window,
                       bounds, tokens, price)  # fmt: skip
        here = _scaled(here, spec.sample)
        by_site[name] = {k: here[k] for k in SITE_FIELDS}
    for name in spec.requests.origin or {spec.sites[0]: 1.0}:
        came = _scores(req, rows[req["origin"][rows] == site_names.index(name)], reps, none, window, bounds, tokens,
                       price)  # fmt: skip
        came = _scaled(came, spec.sample)
        by_origin[name] = {k: came[k] for k in ORIGIN_FIELDS}
    return {**out, "by_site": by_site, "by_origin": by_origin}


def service_metrics(
    req: Table, reps: Table, window: Window, services: Sequence[Any], pools: Sequence[Pool], node_pool: Sequence[int],
    site_costs: Mapping[str, Costs], site_failures: Sequence[tuple[float, int]] = (),
) -> dict[str, Any]:  # fmt: skip
    """The ``services`` block of a summary: the totals over every service, and ``by_service``.

    Args:
        req: the requests (:func:`dcsim.metrics.tables.requests_table`, every request).
        reps: the replicas (:func:`replicas_table`).
        window: the measured window.
        services: the scenario's services (their SLOs, whether they are token models).
        pools: the data center's pools (GPU types, sites, power).
        node_pool: the pool of each node.
        site_costs: each site's prices.
        site_failures: (time, site index) of each site failure (for ``time_to_recover_slo_s``).

    A replica's cost is its GPU-hours at its site's GPU-hour price for its GPU type, plus
    the energy of those GPUs at full power (times the site's PUE and electricity price).
    """
    pool_price = np.array([
        site_costs[p.site].gpu_hour_price(p.gpu_type)
        + p.gpu_power_w / 1000.0 * site_costs[p.site].pue * site_costs[p.site].electricity_usd_per_kwh
        for p in pools
    ])  # fmt: skip
    node_pools = np.asarray(node_pool, dtype=np.int64)[reps["node"]] if len(reps) else np.zeros(0, dtype=np.int64)
    price = pool_price[node_pools] if len(reps) else np.zeros(0)
    site_index = {name: i for i, name in enumerate(site_costs)}
    node_site = np.array([site_index[p.site] for p in pools], dtype=np.int64)[node_pools]
    in_window = (req["arrival_s"] >= window.start) & (req["arrival_s"] <= window.end)
    svc = req.coded("service")
    rsvc = reps.coded("service")
    by_service = {}
    for spec in services:
        rows = np.flatnonzero(in_window & svc.is_(spec.name))
        reps_rows = np.flatnonzero(rsvc.is_(spec.name))
        scores = _scores(req, rows, reps, reps_rows, window, spec.slo.bounds(), spec.service_model.tokens, price)
        objectives = [o for o in spec.slo.objectives() if o[0] == "latency" or spec.service_model.tokens]
        scores["slo_met"] = slo_met(req, rows, objectives)
        by_service[spec.name] = _scaled(scores, spec.sample)
        if spec.sites is not None:
            block = by_service[spec.name]
            block.update(_geo_scores(
                req, rows, reps, reps_rows, window, spec, price, list(site_costs), node_site, site_failures
            ))  # fmt: skip
            block["requests_lost"] = block["rejected"] + block["failed"]  # scaled with them under `sample`
    total = _pooled(req, reps, in_window, window, services, price)
    verdicts = [p["slo_met"] for p in by_service.values() if p["slo_met"] is not None]
    total["slo_met"] = min(verdicts) if verdicts else None  # 1 when every service with an SLO meets it
    if any(spec.sample != 1.0 for spec in services):
        parts = by_service.values()
        for key in (*_COUNTS, *_AMOUNTS):
            total[key] = sum(p[key] for p in parts)
        served = total["completed"]
        cost = sum(p["usd_per_million_requests"] * p["completed"] for p in parts if p["usd_per_million_requests"])
        total["usd_per_million_requests"] = cost / served if served else None
        weights = _weights(svc, {spec.name: spec.sample for spec in services})
        done = in_window & (req.coded("status").codes == REQUEST_STATUS.index("completed"))
        lat, w = req["latency_s"][done], weights[done]
        total["mean_latency_s"] = float(np.average(lat, weights=w)) if lat.size else None
        for q in (50, 95, 99):
            total[f"p{q}_latency_s"] = _weighted_percentile(lat, w, q)
        ttft = req["first_token_s"][done] - req["arrival_s"][done]
        known = ~np.isnan(ttft)
        if total["mean_ttft_s"] is not None:
            total["mean_ttft_s"] = float(np.average(ttft[known], weights=w[known])) if known.any() else None
            total["p50_ttft_s"] = _weighted_percentile(ttft[known], w[known], 50)
            total["p99_ttft_s"] = _weighted_percentile(ttft[known], w[known], 99)
    geo = [p for p in by_service.values() if "requests_lost" in p]
    if geo:  # a service with sites: its losses and recovery (the longest), over those services
        total["requests_lost"] = sum(p["requests_lost"] for p in geo)
        times = [p["time_to_recover_slo_s"] for p in geo if p["time_to_recover_slo_s"] is not None]
        total["time_to_recover_slo_s"] = max(times) if times else None
    return {**total, "by_service": by_service}


def _pooled(
    req: Table, reps: Table, in_window: np.ndarray, window: Window, services: Sequence[Any], price: np.ndarray
) -> dict[str, Any]:
    """The metrics over every service: counts and replica figures summed, percentiles over all requests.

    SLO attainment holds each request to its own service's bounds.
    """
    rows = np.flatnonzero(in_window)
    out = _scores(req, rows, reps, np.arange(len(reps)), window, (math.inf, math.inf), True, price)
    if not any(s.service_model.tokens for s in services):
        out["mean_ttft_s"] = out["p50_ttft_s"] = out["p99_ttft_s"] = None
    svc = req.coded("service")
    met = ended = 0.0
    for spec in services:
        part = np.flatnonzero(in_window & svc.is_(spec.name))
        none = np.zeros(0, dtype=np.int64)
        one = _scores(req, part, reps, none, window, spec.slo.bounds(), spec.service_model.tokens, price)
        if one["slo_attainment"] is not None:  # services without an SLO do not count
            n = (one["completed"] + one["rejected"] + one["failed"]) / spec.sample
            met += one["slo_attainment"] * n
            ended += n
    out["slo_attainment"] = met / ended if ended else None
    return out


__all__ = [
    "FIELDS", "ORIGIN_FIELDS", "RECOVERY_WINDOW_S", "SITE_FIELDS", "replica_seconds", "replica_spans", "replicas_table",
    "service_metrics", "time_to_recover",
]  # fmt: skip
