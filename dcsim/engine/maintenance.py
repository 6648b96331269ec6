"""Planned maintenance windows: drain units (wait for their runs, or evict them), keep them down, bring them back.

A window *cordons* its nodes: their idle GPUs leave service at once and busy ones as
their runs end (or at once, evicted with ``drain: evict``: an evicted run with
checkpointing writes one as it leaves). Then the units are blocked, like failures,
through the reliability machinery's blocks, for the window's duration. Windows may
overlap; a node stays cordoned while any window holds it. ``rolling`` windows take the
units one after another.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from dcsim.faults.spec import Maintenance
from dcsim.infra.components import NAMES


class MaintenanceWindows:
    """The maintenance windows of one run, as processes.

    Args:
        rel: the :class:`~dcsim.engine.reliability.Reliability` whose blocks, cordons and capacity
            callback they use (it builds them, so this module does not import it).
        windows: the scenario's ``maintenance`` blocks.
    """

    def __init__(self, rel: Any, windows: Sequence[Maintenance]) -> None:
        self.rel, self.env, self.cluster = rel, rel.env, rel.cluster
        self._draining: dict[int, simpy.Event] = {}
        for mt in windows:
            self.env.process(self._maintenance(mt))

    def _units(self, mt: Maintenance) -> list[int]:
        if mt.units is None:
            return list(range(self.rel.tree.count(NAMES.index(mt.scope))))
        names = self.rel.topology.site_names
        return [names.index(u) if isinstance(u, str) else int(u) for u in mt.units]

    def _maintenance(self, mt: Maintenance) -> Generator[Any, Any, None]:
        env = self.env
        cls = NAMES.index(mt.scope)
        units = self._units(mt)
        t = mt.start
        while True:
            if t > env.now:
                yield env.timeout(t - env.now)
            if mt.rolling:
                for u in units:
                    yield env.process(self._maintain(mt, cls, [u]))
            else:
                yield env.process(self._maintain(mt, cls, units))
            if mt.every is None:
                return
            t += mt.every

    def _maintain(self, mt: Maintenance, cls: int, units: list[int]) -> Generator[Any, Any, None]:
        """Drain the units (wait or evict), keep them down for the window, bring them back."""
        env, cluster = self.env, self.cluster
        nodes = sorted({n for u in units for n in self.rel.nodes_of(cls, u)})
        cordoned = cluster.cordoned
        for n in nodes:  # windows may overlap: a node stays cordoned while any window holds it
            cordoned[n] = cordoned.get(n, 0) + 1
        self.rel.outages += 1
        for n in nodes:
            self.rel.refresh(n)  # idle GPUs leave service now; busy ones as their jobs leave
        if self.rel.cordon_hook is not None:
            self.rel.cordon_hook(nodes)  # replicas there are replaced elsewhere and drain
        if mt.drain == "evict":
            hit = {job.id: job for n in nodes for job in self.rel.holders(n)}
            for job in sorted(hit.values(), key=lambda j: j.id):
                job.lose("maintenance")
        self.rel.capacity_changed()
        busy = [n for n in nodes if self._busy(n)]
        if busy:
            events = [self._draining.setdefault(n, env.event()) for n in busy]
            yield simpy.AllOf(env, events)
        for u in units:
            self.rel.block(cls, u, None)
        for n in nodes:
            cordoned[n] -= 1
            if not cordoned[n]:
                del cordoned[n]
        self.rel.outages -= 1
        for n in nodes:
            self.rel.refresh(n)
        self.rel.capacity_changed()
        yield env.timeout(mt.duration)
        for u in units:
            self.rel.unblock(cls, u)
        self.rel.capacity_changed()

    def _busy(self, node: int) -> bool:
        """Jobs still hold the node: GPUs allocated (or, where GPUs are shared, any job, a CPU-only one too)."""
        cluster = self.cluster
        return bool(cluster.allocated(node)) or (not cluster.saturates and bool(self.rel.holders(node)))

    def released(self, placement: list[tuple[int, int]]) -> None:
        """A job left these nodes: wake maintenance waiting for a cordoned node to empty."""
        cluster = self.cluster
        for n, _ in placement:
            if n in cluster.cordoned:
                self.rel.refresh(n)
                if n in self._draining and not self._busy(n):
                    self._draining.pop(n).succeed()
        self.rel.col.on_down(self.env.now, cluster.down_gpus)


__all__ = ["MaintenanceWindows"]
