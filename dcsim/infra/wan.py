"""The WAN between sites: a graph of links with bandwidth and latency.

Traffic between two sites takes the path of least total latency (ties: fewest hops, then
the sites' order); a transfer on it is a flow over the path's links, which share their
bandwidth max-min fairly (:func:`dcsim.infra.fabric.max_min`). Link ids are the indexes of
``datacenter.wan``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any


class Wan:
    """Paths and latencies between the sites of one data center.

    Args:
        sites: the site names, in scenario order.
        links: the ``datacenter.wan`` entries (``between``, ``bandwidth`` in bit/s, ``latency`` in s).
    """

    def __init__(self, sites: Sequence[str], links: Sequence[Any]) -> None:
        import networkx as nx

        self.sites = list(sites)
        self.index = {name: i for i, name in enumerate(self.sites)}
        #: Each link's capacity (bit/s) and one-way latency (s), by link id.
        self.capacity = [float(link.bandwidth) for link in links]
        self.link_latency = [float(link.latency) for link in links]
        self.ends = [(self.index[link.between[0]], self.index[link.between[1]]) for link in links]
        graph = nx.Graph()
        graph.add_nodes_from(range(len(self.sites)))
        for i, (a, b) in enumerate(self.ends):
            # A tiny hop cost breaks ties between equal latencies towards fewer hops.
            graph.add_edge(a, b, id=i, weight=self.link_latency[i] + 1e-9)
        n = len(self.sites)
        self._paths: list[list[tuple[int, ...] | None]] = [[None] * n for _ in range(n)]
        self._latency = [[math.inf] * n for _ in range(n)]
        for a in range(n):
            _lengths, paths = nx.single_source_dijkstra(graph, a)
            for b, path in paths.items():
                ids = tuple(graph.edges[u, v]["id"] for u, v in itertools.pairwise(path))
                self._paths[a][b] = ids
                self._latency[a][b] = sum(self.link_latency[i] for i in ids)

    def path(self, a: str | int, b: str | int) -> tuple[int, ...] | None:
        """The link ids from site ``a`` to site ``b`` (empty: the same site; None: not connected)."""
        return self._paths[self._site(a)][self._site(b)]

    def latency(self, a: str | int, b: str | int) -> float:
        """One-way latency from ``a`` to ``b``, s (0 within a site; inf: not connected)."""
        return self._latency[self._site(a)][self._site(b)]

    def rtt(self, a: str | int, b: str | int) -> float:
        """Round-trip time between ``a`` and ``b``, s."""
        return 2.0 * self.latency(a, b)

    def connected(self, a: str | int, b: str | int) -> bool:
        """Whether traffic can go from ``a`` to ``b``."""
        return self.path(a, b) is not None

    def _site(self, site: str | int) -> int:
        return site if isinstance(site, int) else self.index[site]


__all__ = ["Wan"]
