"""Failure traces: a CSV of (time, component, duration) replayed exactly.

``component`` names one unit: ``gpu:<node>.<index>``, ``node:<node>``, ``rack:<rack>``,
``site:<site name>``, ``link:<link>`` or ``switch:<switch>``; node and rack ids count from
0 in scenario order (the ids of the jobs table's ``first_node``), links and switches as the
fabric numbers them (:mod:`dcsim.infra.fabrics`). Times and durations are numbers in the trace's
``time_unit``. Every problem names its line.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.faults.spec import COMPONENTS, FailureTrace
from dcsim.infra.topology import Topology
from dcsim.workload.distributions import read_csv_text, resolve

if TYPE_CHECKING:
    from dcsim.infra.fabrics import Fabric

COLUMNS = ("time", "component", "duration")


def parse_component(
    text: str, topology: Topology, gpu_offsets: list[int] | None = None, fabric: Fabric | None = None
) -> tuple[int, int]:
    """``(component class index, unit id)`` of a component name.

    ``gpu_offsets`` (:meth:`Topology.gpu_offsets`) saves recomputing them for each row;
    ``fabric`` numbers the links and switches (without it, none can be named).

    Raises:
        ValueError: the name is malformed or names no unit of the data center.
    """
    kind, sep, ident = text.strip().partition(":")
    if not sep or kind not in COMPONENTS:
        raise ValueError(f"component {text!r} should look like gpu:3.5, node:3, rack:1, site:dc1, link:7 or switch:2")
    cls = COMPONENTS.index(kind)
    n_nodes, n_racks = len(topology.node_pool), len(topology.rack_nodes)
    if kind == "site":
        if ident not in topology.site_names:
            raise ValueError(f"no site {ident!r}; sites: {', '.join(topology.site_names)}")
        return cls, topology.site_names.index(ident)
    if kind == "gpu":
        node_text, dot, index_text = ident.partition(".")
        if not dot or not node_text.isdigit() or not index_text.isdigit():
            raise ValueError(f"GPU {text!r} should be gpu:<node>.<index>, e.g. gpu:3.5")
        node, index = int(node_text), int(index_text)
        if node >= n_nodes:
            raise ValueError(f"no node {node}: nodes are 0..{n_nodes - 1}")
        if index >= topology.node_gpus[node]:
            raise ValueError(f"node {node} has GPUs 0..{topology.node_gpus[node] - 1}, not {index}")
        offsets = gpu_offsets if gpu_offsets is not None else topology.gpu_offsets()
        return cls, offsets[node] + index
    if not ident.isdigit():
        raise ValueError(f"{kind} {ident!r} should be a whole number, e.g. {kind}:3")
    unit = int(ident)
    if kind in ("link", "switch"):
        limit = fabric.count(cls) if fabric is not None else 0
    else:
        limit = n_nodes if kind == "node" else n_racks
    if unit >= limit:
        kinds = f"{kind}es" if kind == "switch" else f"{kind}s"
        raise ValueError(
            f"no {kind} {unit}: {kinds} are 0..{limit - 1}" if limit else f"no {kinds} in this data center"
        )
    return cls, unit


def read_failure_trace(
    trace: FailureTrace, base_dir: str, topology: Topology, fabric: Fabric | None = None
) -> list[tuple[float, int, int, float]]:
    """The trace's failures as ``(time s, component class index, unit id, down time s)``, by time.

    ``fabric`` numbers the links and switches a row may name.

    Raises:
        MissingFileError: no such file.
        TraceError: a missing column or a bad row, with its line number.
    """
    path = resolve(base_dir, trace.path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; check the path (relative to the scenario file)")
    table = read_csv_text(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise TraceError(
            f"{path}: missing column(s) {', '.join(missing)}; a failure trace has columns time, component, duration"
        )
    scale = units.duration("1" + trace.time_unit)
    offsets = topology.gpu_offsets()
    rows = []
    for i, (t, comp, dur) in enumerate(zip(table["time"], table["component"], table["duration"], strict=True)):
        line = i + 2  # the header is line 1
        try:
            time, down = float(t), float(dur)
        except ValueError:
            raise TraceError(f"{path} line {line}: time and duration must be numbers, got {t!r}, {dur!r}") from None
        if not (math.isfinite(time) and time >= 0 and math.isfinite(down) and down > 0):
            raise TraceError(f"{path} line {line}: need time >= 0 and duration > 0, got {t}, {dur}")
        try:
            cls, unit = parse_component(comp, topology, offsets, fabric)
        except ValueError as exc:
            raise TraceError(f"{path} line {line}: {exc}") from None
        rows.append((time * scale, cls, unit, down * scale))
    rows.sort(key=lambda r: r[0])  # stable: ties keep the file's order
    return rows
