"""Elastic jobs' GPU counts over time: the ``elastic_span`` records as a table, and what follows from them.

The base accounting (:func:`dcsim.metrics.window.busy_gpu_seconds`, :func:`dcsim.metrics.scoring.job_spans`)
counts each run at the job's nominal ``gpus``. An elastic run holds other counts for stretches
of it; each span adds ``(gpus - nominal) x its length`` (negative when it held fewer), so GPU-time,
utilization, energy and carbon count the GPUs actually held over time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dcsim.core.table import Table
from dcsim.metrics.collector import Collector
from dcsim.metrics.tables import record_table
from dcsim.metrics.window import Window, overlap


def elastic_spans_table(col: Collector) -> Table | None:
    """Every span of an elastic run at one GPU count: ``start_s, job_id, pool, gpus, end_s, first`` (None: none)."""
    if not len(col.elastic_spans["time"]):
        return None
    return record_table(col, "elastic_span", time="start_s", until="end_s")


def _ends(spans: Table, end: float) -> np.ndarray:
    return np.where(np.isnan(spans["end_s"]), end, spans["end_s"])


def elastic_columns(spans: Table, n: int, end: float) -> dict[str, np.ndarray]:
    """The jobs table's elastic columns, for ``n`` jobs; runs still going end at ``end``.

    ``mean_gpus``: GPUs held, time-weighted over all its runs (NaN: it never ran elastic);
    ``resizes``: changes of its GPU count while running.
    """
    length = _ends(spans, end) - spans["start_s"]
    ids = spans["job_id"]
    seconds = np.bincount(ids, weights=length, minlength=n)
    gpu_seconds = np.bincount(ids, weights=length * spans["gpus"], minlength=n)
    counts = np.bincount(ids, minlength=n)
    last = np.zeros(n, dtype=np.int64)
    last[ids] = spans["gpus"]  # a run of no length (resized at once): its count
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seconds > 0, gpu_seconds / seconds, np.where(counts > 0, last, np.nan))
    resizes = np.bincount(ids[~spans["first"]], minlength=n).astype(np.int64)
    return {"mean_gpus": mean, "resizes": resizes}


def extra_spans(spans: Table, jobs: Table) -> tuple[np.ndarray, ...]:
    """The spans as corrections to the nominal count: ``(start, end, gpus - nominal, pool, class code)``."""
    ids = spans["job_id"]
    return (spans["start_s"], spans["end_s"], spans["gpus"] - jobs["gpus"][ids], spans["pool"],
            jobs.coded("job_class").codes[ids])  # fmt: skip


def extra_gpu_seconds(spans: Table, jobs: Table, window: Window, n_pools: int) -> np.ndarray:
    """GPU-seconds elastic runs held inside the window beyond (or, negative, short of) their nominal count, per pool."""
    seconds = overlap(spans["start_s"], _ends(spans, window.end), window) * (
        spans["gpus"] - jobs["gpus"][spans["job_id"]]
    )
    return np.bincount(spans["pool"], weights=seconds, minlength=n_pools)


def elastic_metrics(spans: Table, window: Window) -> dict[str, Any]:
    """``jobs.resizes`` (in the window) and ``jobs.mean_elastic_gpus`` (GPUs an elastic run held, time-weighted)."""
    inside = overlap(spans["start_s"], _ends(spans, window.end), window)
    start = spans["start_s"]
    resized = ~spans["first"] & (start >= window.start) & (start < window.end)
    total = float(inside.sum())
    return {
        "resizes": int(resized.sum()),
        "mean_elastic_gpus": float((inside * spans["gpus"]).sum() / total) if total > 0 else None,
    }


__all__ = ["elastic_columns", "elastic_metrics", "elastic_spans_table", "extra_gpu_seconds", "extra_spans"]
