"""Transfers of bytes sharing links max-min fairly: one engine for storage and the WAN.

A transfer is a flow of ``nodes`` equal parts over a route of links (a link crossed by k of
its parts weighs k), each part moving at most ``demand`` bits/s. The transfers of one *group*
(a site's storage; the WAN) share their links by :func:`dcsim.infra.fabric.max_min`,
recomputed for that group when one of its transfers starts or ends; when every link's
demand fits its capacity (uncongested) no solve is needed and each part moves at its
demand. Each transfer has one pending end event, guarded by a token as a run's is
(:mod:`dcsim.engine.runs`); a rate that moves by at most :data:`~dcsim.infra.fabric.RTOL`
(relative) is not applied. Each link's load is integrated over the measured window (from
``warmup`` on), with the time some transfer was on it.

:class:`dcsim.engine.storage.Storage` (checkpoints and model loads) and
:class:`dcsim.engine.wan.WanTransfers` (jobs' data moved between sites) are the two users:
each says how a transfer's route and demand follow from its ends, and records it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import simpy

from dcsim.infra.fabric import RTOL, max_min


class Transfer:
    """One transfer in progress: its parts' flow and the bits still to move."""

    __slots__ = ("bits", "demand", "done", "idle_s", "job_id", "key", "kind", "load", "nodes", "rate",
                 "since", "site", "start", "token", "total")  # fmt: skip

    def __init__(self, key: Hashable, job_id: int, kind: Any, site: int, nodes: int, bits: float, links: tuple,
                 demand: float, done: Callable[[], None], start: float, idle_s: float) -> None:  # fmt: skip
        #: ``kind``: what its record says of it (storage: the read flag; the WAN: its two sites);
        #: ``site``: its group (storage: its site; the WAN: 0).
        self.key, self.job_id, self.kind, self.site, self.nodes = key, job_id, kind, site, nodes
        self.bits = self.total = bits
        #: Crossings of each link (its parts on it: the route's weights), and what one part may move, bits/s.
        self.load = {link: links.count(link) for link in dict.fromkeys(links)}
        self.demand = demand
        self.done = done
        self.start = self.since = start
        self.idle_s = idle_s
        self.rate = 0.0  # bits/s of each part
        self.token = 0


class Transfers:
    """Links of given capacities and the transfers sharing them, in groups that share no link.

    Args:
        env: the SimPy environment.
        capacities: each link's capacity, bits/s, by link id.
        groups: how many groups there are.
        warmup: the start of the measured window, s.
    """

    def __init__(self, env: simpy.Environment, capacities: Sequence[float], groups: int, warmup: float) -> None:
        self.env, self.warmup = env, warmup
        self.capacities = list(capacities)
        self._capacity = np.asarray(self.capacities, dtype=float)
        #: The transfers in progress by key, and each group's (in order of arrival: the solver's input order).
        self.transfers: dict[Hashable, Transfer] = {}
        self._at_site: list[dict[Hashable, Transfer]] = [{} for _ in range(groups)]
        n = len(self.capacities)
        #: What the transfers on each link would move at their demand, bits/s; links where that exceeds
        #: the capacity (congested) in each group; whether the group's shares were last solved congested.
        self._demand = [0.0] * n
        self._over = [0] * groups
        self._solved = [False] * groups
        self.load = [0.0] * n  # bits/s now
        self._active = [0] * n  # transfers on the link now
        self._since = [warmup] * n
        self._bits = [0.0] * n  # carried inside the window
        self._busy = [0.0] * n  # seconds with a transfer on it, inside the window

    def _record(self, t: Transfer, end: float, moved_bits: float, completed: bool) -> None:
        """Record a transfer that ended at ``end`` (completed, cancelled, or cut by the end of the simulation)."""
        raise NotImplementedError

    def begin(self, t: Transfer) -> None:
        """Put a new transfer on its links and share its group again.

        Raises:
            KeyError: a transfer of its key is in progress.
        """
        if t.key in self.transfers:
            raise KeyError(f"transfer {t.key!r} is already in progress")
        self.transfers[t.key] = self._at_site[t.site][t.key] = t
        for link, crossings in t.load.items():
            self._settle_link(link)
            self._active[link] += 1
            self._add_demand(t.site, link, crossings * t.demand)
        self._reshare(t.site, t)

    def cancel(self, key: Hashable) -> None:
        """Stop a transfer now (its run was lost): its share goes to the others; ``done`` is not called."""
        t = self.transfers.get(key)
        if t is not None:
            self._end(t, completed=False)

    def _end(self, t: Transfer, completed: bool) -> None:
        """Take a transfer off the links (finished or cancelled), record it, and give the others their new shares."""
        now = self.env.now
        self._settle(t, now)
        self._set_rate(t, 0.0)
        for link, crossings in t.load.items():
            self._settle_link(link)
            self._active[link] -= 1
            self._add_demand(t.site, link, -crossings * t.demand)
            if not self._active[link]:
                self.load[link] = 0.0  # exactly: no rounding left over from the shares
                self._demand[link] = 0.0
        del self.transfers[t.key], self._at_site[t.site][t.key]
        t.token += 1
        self._record(t, now, t.total if completed else t.total - max(t.bits, 0.0), completed)
        self._reshare(t.site)

    def _due(self, event: Any) -> None:
        """A transfer's end event: the last byte moved (a stale one, of a share since moved, does nothing)."""
        t, token = event.value
        if token != t.token or self.transfers.get(t.key) is not t:
            return
        self._end(t, completed=True)
        t.done()

    def _add_demand(self, site: int, link: int, delta: float) -> None:
        """Change what a link's transfers would move at their demand, keeping the group's congested links' count."""
        capacity = self.capacities[link] * (1.0 + RTOL)
        before = self._demand[link] > capacity
        self._demand[link] += delta
        self._over[site] += (self._demand[link] > capacity) - before

    def _reshare(self, site: int, added: Transfer | None = None) -> None:
        """Share the group's links among its transfers again, and move the ends of those whose rate moved.

        Uncongested before and after, only a transfer just ``added`` moves (to its demand).
        """
        if not self._over[site] and not self._solved[site]:
            here = [added] if added is not None else []
            rates = [added.demand] if added is not None else []
        else:
            here = list(self._at_site[site].values())
            if self._over[site]:
                rates = max_min([t.load for t in here], self._capacity, [t.demand for t in here]).tolist()
            else:
                rates = [t.demand for t in here]  # room again for every part at its demand
            self._solved[site] = bool(self._over[site])
        now = self.env.now
        for t, rate in zip(here, rates, strict=True):
            old = t.rate
            if old > 0 and abs(rate - old) <= RTOL * max(rate, old):
                continue
            self._settle(t, now)
            self._set_rate(t, rate)
            t.token += 1
            if rate > 0:
                self.env.timeout(max(t.bits, 0.0) / (rate * t.nodes), (t, t.token)).callbacks.append(self._due)

    def _settle(self, t: Transfer, now: float) -> None:
        """The bits moved since the transfer's rate last changed."""
        t.bits -= t.rate * t.nodes * (now - t.since)
        t.since = now

    def _set_rate(self, t: Transfer, rate: float) -> None:
        """Each part of ``t`` moves ``rate`` bits/s from now on: its links' loads change (integrated so far)."""
        delta = rate - t.rate
        if delta:
            for link, crossings in t.load.items():
                self._settle_link(link)
                self.load[link] += delta * crossings
        t.rate = rate

    def _settle_link(self, link: int) -> None:
        """Integrate a link's load and busy time up to now (inside the window)."""
        t = max(self.env.now, self.warmup)
        dt = t - self._since[link]
        if dt > 0:
            self._bits[link] += self.load[link] * dt
            if self._active[link]:
                self._busy[link] += dt
        self._since[link] = t

    def close_transfers(self, end: float) -> None:
        """The simulation ended: record the transfers still going (what they moved) and settle every link."""
        for t in list(self.transfers.values()):
            self._settle(t, end)
            self._record(t, end, t.total - max(t.bits, 0.0), False)
        for link in range(len(self.capacities)):
            self._settle_link(link)


__all__ = ["Transfer", "Transfers"]
