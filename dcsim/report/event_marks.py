"""The scenario's timed events on a plot's time axis: a shaded span (an event with an end) or a line, labelled.

Every time-series figure of a run (utilization, failures, link utilization, the services'
latency and autoscaling) calls :func:`mark_events` on each of its panels, so an event reads
the same everywhere: its number (as ``dcsim validate`` and ``scenario_events.parquet`` give it)
at the top of the first panel, and a legend entry per kind of action.
"""

from __future__ import annotations

import math
from typing import Any

ACTION_COLORS = {
    "set": "#17becf",
    "add_racks": "#2ca02c",
    "remove_racks": "#8c564b",
    "fail": "#d62728",
    "restore": "#d62728",
}
ACTION_WORDS = {
    "set": "a value set",
    "add_racks": "racks added",
    "remove_racks": "racks removed",
    "fail": "a unit failed",
    "restore": "a unit restored",
}


def mark_events(ax: Any, scenario: Any, per: float, end: float | None = None, labels: bool = True) -> None:
    """Mark each of ``scenario``'s events on ``ax``, whose x axis is time in units of ``per`` seconds.

    Args:
        ax: a matplotlib axes with time on its x axis.
        scenario: the run's scenario (its ``events``).
        per: seconds per x-axis unit (3600: hours).
        end: where an event without an end stops being shaded (s; None: it is a line).
        labels: write each event's number at the top, and add the legend entries (the first panel).
    """
    events = getattr(scenario, "events", None) or []
    if not events or per <= 0:
        return
    shown: set[str] = set()
    transform = ax.get_xaxis_transform()
    for i, ev in enumerate(events):
        color = ACTION_COLORS[ev.action]
        label = ACTION_WORDS[ev.action] if labels and ev.action not in shown else None
        shown.add(ev.action)
        start = float(ev.at) / per
        stop = ev.end if math.isfinite(ev.end) else None
        if stop is not None:
            if end is not None:
                stop = min(stop, end)
            ax.axvspan(start, stop / per, color=color, alpha=0.12, lw=0, zorder=0, label=label)
        else:
            ax.axvline(start, color=color, ls="-.", lw=1.0, alpha=0.8, label=label)
        if labels:
            ax.text(start, 0.99, f" {i}", transform=transform, ha="left", va="top", fontsize=7, color=color)


__all__ = ["ACTION_COLORS", "mark_events"]
