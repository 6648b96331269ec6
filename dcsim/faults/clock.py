"""The next failures of a population of components, without a process per component.

A :class:`FailureClock` keeps one heap of (next failure time, component) for a class of
components (all GPUs, all nodes, all racks): O(log n) per failure, O(n) memory, for any
time-to-failure distribution, so 100,000 GPUs cost one heap, not 100,000 SimPy processes.
A component that is down is *disarmed* (it cannot fail again) and *re-armed* when it is
back up, with a fresh time to failure (a renewal process). Entries of a disarmed
component are dropped lazily: each arming has its own epoch.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

import numpy as np

from dcsim.faults.models import TimeToFailure


class FailureClock:
    """Failure times of ``n`` independent components of one class.

    Args:
        ttf: the time to failure of one component.
        n: number of components (ids 0..n-1), all up and armed at ``start``.
        rng: the class's ``failures.<class>`` stream.
        start: time the components start running, s.
    """

    CHUNK = 4096

    def __init__(self, ttf: TimeToFailure, n: int, rng: np.random.Generator, start: float = 0.0) -> None:
        self.ttf = ttf
        self.rng = rng
        # Invariant: an armed component has exactly one valid heap entry, the one tagged
        # with its current epoch; a disarmed one has none.
        self.epoch = np.zeros(n, dtype=np.int64)
        self.armed = np.ones(n, dtype=bool)
        times = start + ttf.draw(rng, n)
        self._heap: list[tuple[float, int, int]] = [(float(t), c, 0) for c, t in enumerate(times.tolist())]
        heapify(self._heap)
        self._draws: list[float] = []

    def __len__(self) -> int:
        return int(self.armed.sum())

    def _draw(self) -> float:
        """One time to failure, drawn in chunks for speed."""
        if not self._draws:
            self._draws = self.ttf.draw(self.rng, self.CHUNK).tolist()[::-1]
        return self._draws.pop()

    def peek(self) -> tuple[float, int] | None:
        """The earliest pending failure ``(time, component)`` among armed components, or None."""
        heap = self._heap
        while heap:
            t, c, e = heap[0]
            if self.armed[c] and self.epoch[c] == e:
                return t, c
            heappop(heap)  # stale: the component was disarmed (and maybe re-armed) since
        return None

    def pop(self) -> tuple[float, int]:
        """Take the earliest failure; its component is now disarmed (down).

        Raises:
            IndexError: no armed component.
        """
        found = self.peek()
        if found is None:
            raise IndexError("no armed component")
        heappop(self._heap)
        self.armed[found[1]] = False
        return found

    def disarm(self, component: int) -> None:
        """The component went down for another reason (its rack failed): it cannot fail now."""
        self.armed[component] = False

    def rearm(self, component: int, now: float) -> float:
        """The component is back up at ``now``: draw its next failure; return that time."""
        self.epoch[component] += 1
        self.armed[component] = True
        t = now + self._draw()
        heappush(self._heap, (t, component, int(self.epoch[component])))
        if len(self._heap) > 4 * len(self.epoch) + 1024:  # drop stale entries now and then
            self._heap = [x for x in self._heap if self.armed[x[1]] and self.epoch[x[1]] == x[2]]
            heapify(self._heap)
        return t
