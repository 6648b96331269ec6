"""The job queue, ordered by the scheduler's key (ties -> earlier submission).

A :class:`SortedRun` is a sorted list with a moving head: appends in key order (FIFO)
cost O(1), other inserts O(log n) search plus a memmove, removal from the head O(1).
A job that left from behind the head (backfill) is skipped lazily, and the list is
compacted when dead entries outnumber live ones.

The queue keeps one run for the global order and, for backfill, one run per job
*class* (same pools, same GPU count): if the first job of a class does not fit,
none of the class fits, so a backfill pass looks at class heads only and costs
O(classes log classes), not O(queue length). With a site router it keeps one run per site
too: a strict order holds site by site (a job that cannot start at one site does not hold
back the jobs of another).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterator
from typing import Any

from dcsim.workload.jobs import QUEUED, Job

Entry = tuple[Any, int, Job]
"""(scheduler key, job id, job): ids are unique, so jobs are never compared."""
ClassKey = tuple[tuple[int, ...], int]
"""(pools, GPUs): jobs of one class fit or fail alike."""


class SortedRun:
    """Entries in key order, with lazy removal of entries whose job left the queue."""

    __slots__ = ("head", "items", "live")

    def __init__(self) -> None:
        self.items: list[Entry] = []
        self.head = 0
        self.live = 0

    def push(self, entry: Entry) -> bool:
        """Insert ``entry``; return True if it is now first."""
        items = self.items
        self.live += 1
        if len(items) == self.head or not entry < items[-1]:
            items.append(entry)
            return self.live == 1
        insort(items, entry, lo=self.head)
        return self.first() is entry

    def first(self) -> Entry | None:
        """The first live entry, or None."""
        items = self.items
        head = self.head
        while head < len(items) and items[head][2].state != QUEUED:
            head += 1
        self.head = head
        return items[head] if head < len(items) else None

    def discard(self) -> None:
        """Note that one job of this run left the queue (its state already changed)."""
        self.live -= 1
        items = self.items
        if len(items) - self.head > 2 * self.live + 64:
            self.items = [e for e in items[self.head :] if e[2].state == QUEUED]
            self.head = 0
        elif self.head > 4096 and self.head > len(items) // 2:
            del items[: self.head]
            self.head = 0

    def __iter__(self) -> Iterator[Job]:
        items = self.items
        for i in range(self.head, len(items)):
            job = items[i][2]
            if job.state == QUEUED:
                yield job

    def entries(self) -> Iterator[Entry]:
        """The live entries in order, from the first (do not push while iterating)."""
        if self.first() is None:
            return
        items = self.items
        for i in range(self.head, len(items)):
            entry = items[i]
            if entry[2].state == QUEUED:
                yield entry


class JobQueue:
    """Queued jobs in scheduling order.

    Args:
        by_class: also keep one run per job class (for backfill passes).
        partition: the part of the data center a queued job waits for (a site, with a site
            router: jobs of different sites never compete for GPUs); each part keeps its own
            run, so that a strict order holds within each part, and "first in line" means first
            of its part. None: one part, the whole queue.
    """

    def __init__(self, by_class: bool = False, partition: Callable[[Job], int] | None = None) -> None:
        self._order = SortedRun()
        self.classes: dict[ClassKey, SortedRun] | None = {} if by_class else None
        self.partition = partition
        #: One run per part, by part (None: no partition).
        self.parts: dict[int, SortedRun] | None = {} if partition is not None else None
        #: While the scheduler decides on an arrival: the job just queued, and whether it is
        #: first in line (None otherwise; see :class:`dcsim.views.QueueLike`).
        self.arrival: Job | None = None
        self.arrival_first = False

    def __len__(self) -> int:
        return self._order.live

    def push(self, key: Any, job: Job) -> bool:
        """Queue ``job`` under ``key``; return True if it is now first in line (of its part, when partitioned)."""
        entry = (key, job.id, job)
        if self.classes is not None:
            run = self.classes.get((job.pools, job.gpus))
            if run is None:
                run = self.classes[(job.pools, job.gpus)] = SortedRun()
            run.push(entry)
        first = self._order.push(entry)
        if self.parts is not None:
            assert self.partition is not None
            part = self.parts.get(self.partition(job))
            if part is None:
                part = self.parts[self.partition(job)] = SortedRun()
            return part.push(entry)
        return first

    def first(self) -> Job | None:
        """The job first in line, or None."""
        entry = self._order.first()
        return entry[2] if entry is not None else None

    def discard(self, job: Job) -> None:
        """Note that ``job`` left the queue; the caller has already changed its state.

        Entries of jobs that left are skipped lazily, so removal costs O(1) amortised.
        """
        self._order.discard()
        if self.classes is not None:
            self.classes[(job.pools, job.gpus)].discard()
        if self.parts is not None:
            assert self.partition is not None
            self.parts[self.partition(job)].discard()

    def __iter__(self) -> Iterator[Job]:
        """Queued jobs in order (do not push while iterating)."""
        return iter(self._order)

    def entries(self) -> Iterator[Entry]:
        """Queued jobs' entries (key, id, job) in order (do not push while iterating)."""
        return self._order.entries()
