"""Elastic jobs' GPU counts over time (the ``elastic_span`` records, :func:`dcsim.metrics.tables.elastic_spans_table`).

The base accounting (:func:`dcsim.metrics.window.busy_gpu_seconds`, :func:`dcsim.metrics.scoring.job_spans`)
counts each run at the job's nominal ``gpus``. An elastic run holds other counts for stretches
of it; each span adds ``(gpus - nominal) x its length`` (negative when it held fewer), so GPU-time,
utilization, energy and carbon count the GPUs actually held over time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dcsim.core.table import Table
from dcsim.metrics.window import Window, overlap


def ends(spans: Table, end: float) -> np.ndarray:
    """Each span's end, ``end`` for those still going."""
    return np.where(np.isnan(spans["end_s"]), end, spans["end_s"])


def extra_spans(spans: Table, jobs: Table) -> tuple[np.ndarray, ...]:
    """The spans as corrections to the nominal count: ``(start, end, gpus - nominal, pool, class code)``."""
    ids = spans["job_id"]
    return (spans["start_s"], spans["end_s"], spans["gpus"] - jobs["gpus"][ids], spans["pool"],
            jobs.coded("job_class").codes[ids])  # fmt: skip


def extra_gpu_seconds(spans: Table, jobs: Table, window: Window, n_pools: int) -> np.ndarray:
    """GPU-seconds elastic runs held inside the window beyond (or, negative, short of) their nominal count, per pool."""
    seconds = overlap(spans["start_s"], ends(spans, window.end), window) * (
        spans["gpus"] - jobs["gpus"][spans["job_id"]]
    )
    return np.bincount(spans["pool"], weights=seconds, minlength=n_pools)


def held_gpus(spans: Table | None, jobs: Table, ids: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """GPUs each job ``ids[i]`` held over ``[start[i], end[i]]``, time-weighted (an instant: just before it).

    A job without spans there (not elastic) held its nominal ``gpus``. Used to weigh the
    time a run lost (restarts, checkpoint writes, lost work) by the GPUs it held.
    """
    out = jobs["gpus"][ids].astype(float)
    if spans is None or not len(spans) or not len(ids):
        return out
    order = np.argsort(spans["job_id"], kind="stable")
    who = spans["job_id"][order]
    s_start, s_gpus = spans["start_s"][order], spans["gpus"][order].astype(float)
    s_end = np.where(np.isnan(spans["end_s"]), np.inf, spans["end_s"])[order]
    lo, hi = np.searchsorted(who, ids, "left"), np.searchsorted(who, ids, "right")
    for i in np.nonzero(hi > lo)[0]:
        a, b, rows = start[i], end[i], slice(lo[i], hi[i])
        if b > a:
            cover = np.clip(np.minimum(s_end[rows], b) - np.maximum(s_start[rows], a), 0.0, None)
            total = cover.sum()
            if total > 0:
                out[i] = (cover * s_gpus[rows]).sum() / total
        else:
            hit = np.nonzero((s_start[rows] < a) & (a <= s_end[rows]))[0]
            if hit.size:
                out[i] = s_gpus[rows][hit[-1]]
    return out


def elastic_metrics(spans: Table, window: Window) -> dict[str, Any]:
    """``jobs.resizes`` (in the window) and ``jobs.mean_elastic_gpus`` (GPUs an elastic run held, time-weighted)."""
    inside = overlap(spans["start_s"], ends(spans, window.end), window)
    start = spans["start_s"]
    resized = ~spans["first"] & (start >= window.start) & (start < window.end)
    total = float(inside.sum())
    return {
        "resizes": int(resized.sum()),
        "mean_elastic_gpus": float((inside * spans["gpus"]).sum() / total) if total > 0 else None,
    }


__all__ = ["elastic_metrics", "ends", "extra_gpu_seconds", "extra_spans", "held_gpus"]
