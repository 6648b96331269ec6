"""The job queue, ordered by the scheduler's key (ties -> earlier submission).

A sorted list with a moving head: appends in key order (FIFO) cost O(1), other
inserts O(log n) search plus a memmove, removal from the head O(1). A job taken
from the middle (backfill) is left in place and skipped; the list is compacted when
dead entries outnumber live ones.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator
from typing import Any

from dcsim.workload.jobs import QUEUED, Job


class JobQueue:
    """Queued jobs in scheduling order."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, int, Job]] = []
        self._head = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def push(self, key: Any, job: Job) -> bool:
        """Queue ``job`` under ``key``; return True if it is now first in line."""
        entry = (key, job.id, job)
        items = self._items
        self._live += 1
        if len(items) == self._head or not entry < items[-1]:
            items.append(entry)
            return self._live == 1
        insort(items, entry, lo=self._head)
        return self.first() is job

    def first(self) -> Job | None:
        """The job first in line, or None."""
        items = self._items
        while self._head < len(items) and items[self._head][2].state != QUEUED:
            self._head += 1
        return items[self._head][2] if self._head < len(items) else None

    def discard(self) -> None:
        """Note that one job left the queue; the caller has already changed its state.

        Entries of jobs that left are skipped lazily, so removal costs O(1) amortised.
        """
        self._live -= 1
        self._compact()

    def _compact(self) -> None:
        """Drop dead entries once they outnumber live ones (amortised O(1))."""
        items = self._items
        if len(items) - self._head > 2 * self._live + 64:
            self._items = [e for e in items[self._head :] if e[2].state == QUEUED]
            self._head = 0
        elif self._head > 4096 and self._head > len(items) // 2:
            del items[: self._head]
            self._head = 0

    def __iter__(self) -> Iterator[Job]:
        """Queued jobs in order (do not push while iterating)."""
        items = self._items
        for i in range(self._head, len(items)):
            job = items[i][2]
            if job.state == QUEUED:
                yield job
