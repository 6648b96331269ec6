"""Jobs' data moved between sites over the WAN, sharing its links max-min fairly.

Every transfer is one flow over the links of its path (:meth:`dcsim.infra.wan.Wan.path`, the
path of least latency), with no limit of its own: it may use up to its path's slowest link
(its demand), and transfers crossing a link share it max-min fairly with every other WAN
transfer in progress (:class:`dcsim.engine.transfers.Transfers`, the engine storage uses too:
the WAN is one group). The last byte arrives one path latency after it is sent, so a transfer
alone on an idle path takes ``size / bandwidth + latency``; its bandwidth is free for the
others during that latency. Each transfer is a ``wan_transfer`` record (its end: the last
byte's arrival), and each link's traffic in the window a ``wan_usage`` record at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import simpy

from dcsim.engine.transfers import Transfer, Transfers
from dcsim.infra.wan import Wan
from dcsim.metrics.collector import Collector


class WanTransfers(Transfers):
    """The WAN's links and the data transfers on them, for one run.

    Args:
        wan: the WAN graph (links' capacities and latencies, paths).
        collector: receives ``wan_transfer`` and ``wan_usage`` records.
        env: the SimPy environment.
        warmup: the start of the measured window, s.
    """

    def __init__(self, wan: Wan, collector: Collector, env: simpy.Environment, warmup: float = 0.0) -> None:
        super().__init__(env, wan.capacity, 1, warmup)
        self.wan, self.collector = wan, collector

    def idle_time(self, nbytes: float, src: int, dst: int) -> float:
        """Seconds ``nbytes`` take from ``src`` to ``dst`` on an idle WAN: size over the slowest link, plus latency."""
        path = self.wan.path(src, dst)
        if not path:
            return 0.0
        return 8.0 * nbytes / min(self.capacities[link] for link in path) + self.wan.latency(src, dst)

    def transfer(self, key: Hashable, nbytes: float, src: int, dst: int, done: Callable[[], None],
                 job_id: int = -1) -> None:  # fmt: skip
        """Move ``nbytes`` from site ``src`` to site ``dst``; call ``done()`` when the last byte has arrived.

        Raises:
            ValueError: the sites are not connected, or are the same site.
            KeyError: a transfer of that ``key`` is in progress.
        """
        path = self.wan.path(src, dst)
        if not path:
            raise ValueError(f"no WAN path from site {src} to site {dst}")
        latency = self.wan.latency(src, dst)
        env = self.env

        def arrived() -> None:
            env.timeout(latency).callbacks.append(lambda _event: done())

        demand = min(self.capacities[link] for link in path)
        self.begin(Transfer(key, job_id, (src, dst), 0, 1, 8.0 * nbytes, path, demand, arrived, env.now,
                            self.idle_time(nbytes, src, dst)))  # fmt: skip

    def _record(self, t: Transfer, end: float, moved_bits: float, completed: bool) -> None:
        src, dst = t.kind
        if completed:
            end += self.wan.latency(src, dst)  # the last byte arrives
        self.collector.on_wan_transfer(t.job_id, src, dst, t.start, end, moved_bits / 8.0, t.idle_s, completed)

    def close(self, end: float) -> None:
        """The simulation ended: record the transfers still going and every link's traffic in the window."""
        self.close_transfers(end)
        for link in range(len(self.capacities)):
            self.collector.on_wan_usage(link, self.capacities[link], self._bits[link], self._busy[link])


__all__ = ["WanTransfers"]
