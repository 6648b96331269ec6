"""Where a job class may run, site by site: what a site router needs of it.

A class may run in the pools of its GPU types (and memory), at its ``sites`` (any site if
none). A site router may send its jobs to each site holding such pools that its data's home
reaches over the WAN (:class:`dcsim.infra.wan.Wan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dcsim.infra.topology import Topology
from dcsim.infra.wan import Wan


def class_pools(topology: Topology, cls: Any) -> tuple[int, ...]:
    """The pools a class may run in: of its GPU types and memory, at its ``sites`` (any site if none).

    A class whose jobs all take GPUs is not offered pools of CPU-only nodes.
    """
    pools = topology.allowed_pools(cls.gpu_types, cls.min_gpu_memory)
    counts = getattr(getattr(cls, "gpus", None), "values", None)
    if counts is None or 0 not in counts:
        pools = tuple(p for p in pools if topology.pools[p].gpus_per_node > 0)
    if cls.sites is None:
        return pools
    return tuple(p for p in pools if topology.pools[p].site in cls.sites)


@dataclass(frozen=True)
class RoutedClass:
    """What routing needs of a job class.

    Attributes:
        pools: the pools it may run in, at every site.
        by_site: those of each site (by site index; empty where it may not run).
        sites: the sites it may be routed to: where it has pools, among its ``sites``, and
            reachable over the WAN from its data's home.
        home: its data's home site (None: no data).
        size: bytes of its data (0: none).
        deferrable: how long after submission a job may be held back, s.
    """

    pools: tuple[int, ...]
    by_site: tuple[tuple[int, ...], ...]
    sites: tuple[int, ...]
    home: int | None
    size: float
    deferrable: float


def routed_class(topology: Topology, wan: Wan, pools: tuple[int, ...], spec: Any = None) -> RoutedClass:
    """The routing facts of a class allowed on ``pools`` (``spec``: its JobClass; None: a trace's jobs)."""
    names = topology.site_names
    by_site = tuple(tuple(p for p in pools if topology.pools[p].site == name) for name in names)
    data = getattr(spec, "data", None)
    home = names.index(data.home) if data is not None else None
    wanted = getattr(spec, "sites", None)
    sites = tuple(
        s for s, name in enumerate(names)
        if by_site[s] and (wanted is None or name in wanted) and (home is None or wan.connected(home, s))
    )  # fmt: skip
    size = float(data.size) if data is not None else 0.0
    return RoutedClass(pools, by_site, sites, home, size, float(getattr(spec, "deferrable", 0.0)))


__all__ = ["RoutedClass", "class_pools", "routed_class"]
