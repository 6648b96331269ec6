"""Job schedulers: which queued jobs start, where, and which running ones to preempt.

One Protocol, :class:`Scheduler`: ``decide(queue, cluster, now)`` returns decisions,
``(job, placement)`` starts, :class:`Preempt` preemptions and :class:`Resize` changes of an
elastic job's GPUs, which the engine applies one
by one, in order, each before the next is drawn (so a lazy iterator sees the GPUs taken
by the starts before it). The engine calls it after every event that may let a job start
(an arrival, a run ending, capacity back), or, for a scheduler with an :class:`Epoch`,
periodically and after such events, batched.

Most schedulers are an order: :class:`KeyOrder` makes a scheduler of a sort key fixed
when the job is queued (smaller runs first; ties go to the earlier submission) and a
backfill flag. With ``backfill: false`` the queue is strict: when the first job does not
fit, nothing behind it starts. With ``backfill: true`` later jobs that fit start in its
place (greedy, no reservation, so large jobs can wait long). fifo, sjf and priority are
such keys, and a plug-in with ``key(job)`` and ``backfill`` is one too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from dcsim.core.registry import Registry, lacks_methods
from dcsim.infra.cluster import Placement
from dcsim.views import ClusterView, Fleet, JobView, QueueLike

if TYPE_CHECKING:
    import numpy as np


class Preempt(NamedTuple):
    """A decision to stop a running job now: it loses its work since its last checkpoint and is queued again."""

    job: JobView
    reason: str


class Resize(NamedTuple):
    """A decision to move a running elastic job to ``placement`` now: more or fewer GPUs, keeping its work.

    The new placement holds between its class's ``min_gpus`` and ``max_gpus``; on each node
    at most the GPUs it holds there plus those free. The job then runs at its speed-up there.
    """

    job: JobView
    placement: Placement


Decision = tuple[JobView, Placement] | Preempt | Resize
"""A start ``(job, placement)``, a :class:`Preempt` or a :class:`Resize`."""


@dataclass(frozen=True)
class Epoch:
    """When a batch scheduler decides.

    Every ``period`` s, and ``delay`` s after an event (events within it share one
    decision), over the first ``window`` queued jobs.
    """

    period: float
    delay: float = 0.0
    window: int = 200


@runtime_checkable
class Scheduler(Protocol):
    """Decides which queued jobs start where, and which running jobs to preempt.

    Attributes:
        epoch: None to be asked after every event that may let a job start; an
            :class:`Epoch` to be asked periodically and after events, batched.
        preempts: True if ``decide`` may return :class:`Preempt` (the engine then tracks
            running jobs and shows them in ``cluster.running()``).
        tracks_runs: True if ``decide`` reads the running jobs (``cluster.running()``: their
            estimated ends, say) without preempting; the engine then tracks them too.
    """

    epoch: Epoch | None
    preempts: bool
    tracks_runs: bool

    def key(self, job: JobView) -> Any:
        """The queue's order: a sort key fixed when the job is queued (smaller first)."""

    def bind(self, fleet: Fleet) -> None:
        """Take the pools' prices and failure rates (called once, before the first decision)."""

    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterable[Decision] | None:
        """Decisions, applied in order; None: no answer this time (the placement policy's backfill pass decides)."""


class SchedulerBase:
    """Defaults for a :class:`Scheduler`, for a plug-in to subclass.

    Event-driven, no preemption, the queue by submission, nothing to bind.
    """

    epoch: Epoch | None = None
    preempts = False
    tracks_runs = False

    def key(self, job: JobView) -> Any:
        """Submission time."""
        return job.submit_time

    def bind(self, fleet: Fleet) -> None:
        """Nothing to take."""


Place = Callable[[Any, Any], "Placement | None"]


def scan(queue: QueueLike, cluster: ClusterView, place: Place) -> Iterator[tuple[Any, Placement]]:
    """The plain backfill rule: offer every queued job, in order, to ``place``. O(queue) per pass.

    Lazy: the engine starts each job before the next is offered. It stops once no GPU is free,
    unless the cluster's GPUs are shared (``saturates`` False: a share or a CPU-only job may still fit).
    """
    for job in queue:
        if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus and cluster.saturates:
            return
        placement = place(job, cluster)
        if placement is not None:
            yield job, placement


class KeyOrder(SchedulerBase):
    """A scheduler made of a sort key and a backfill flag (fifo, sjf, priority, key plug-ins).

    Its decisions use the engine's incremental queue: after an arrival only the new job
    can start (if it is first in line, or backfill is on), as no capacity was freed; after
    capacity is freed, a strict pass starts jobs from the head while they fit, and a
    backfill pass offers the queue in order, or only the first job of each job class
    (pools, GPUs) when ``class_heads`` (the placement policy is uniform in a class: if g
    GPUs do not fit, no job of the class with >= g does), which costs O(classes log
    classes) instead of O(queue) and starts the same jobs.

    Args:
        key: the queue's order.
        backfill: start later jobs that fit when the first does not.
        place: the placement policy's ``place(job, cluster)``.
        class_heads: the placement policy declares ``uniform_in_class`` (see above).
    """

    def __init__(self, key: Callable[[Any], Any], backfill: bool, place: Place, class_heads: bool) -> None:
        self.key = key  # type: ignore[method-assign]
        self.backfill = backfill
        self.place = place
        self.class_heads = class_heads and backfill

    def decide(self, queue: Any, cluster: Any, now: float) -> Iterable[tuple[Any, Placement]]:
        """Starts in the queue's order (see the class)."""
        job = queue.arrival
        if job is not None:
            placement = self.arrived(job, queue.arrival_first, cluster)
            return () if placement is None else ((job, placement),)
        if not self.backfill:
            return self._strict(queue, cluster)
        if self.class_heads:
            return self._heads(queue, cluster)
        return scan(queue, cluster, self.place)

    def arrived(self, job: Any, first: bool, cluster: Any) -> Placement | None:
        """Where the job just queued starts now, or None (the engine's shortcut for ``decide`` on an arrival).

        Only it can have become startable, and only if it is first in line or backfill is on.
        """
        if first or self.backfill:
            return self.place(job, cluster)
        return None

    def _strict(self, queue: Any, cluster: Any) -> Iterator[tuple[Any, Placement]]:
        place = self.place
        parts = getattr(queue, "parts", None)
        if parts:  # a strict order in each part (site): jobs of one never wait for another's
            for part in sorted(parts):
                run = parts[part]
                while (entry := run.first()) is not None:
                    placement = place(entry[2], cluster)
                    if placement is None:
                        break
                    yield entry[2], placement
            return
        while (job := queue.first()) is not None:
            placement = place(job, cluster)
            if placement is None:
                return
            yield job, placement

    def _heads(self, queue: Any, cluster: Any) -> Iterator[tuple[Any, Placement]]:
        place = self.place
        runs = queue.classes
        heads = [(entry, key) for key, run in runs.items() if (entry := run.first()) is not None]
        heapify(heads)
        smallest_failure: dict[tuple[int, ...], int] = {}
        while heads and (cluster.busy_gpus + cluster.down_gpus < cluster.installed_gpus or not cluster.saturates):
            (_, _, job), key = heappop(heads)
            limit = smallest_failure.get(job.pools)
            if limit is not None and job.gpus >= limit:
                continue  # the whole class is out for this pass
            placement = place(job, cluster)
            if placement is None:
                smallest_failure[job.pools] = job.gpus
                continue
            yield job, placement
            entry = runs[key].first()
            if entry is not None:
                heappush(heads, (entry, key))


def _not_a_scheduler(cls: type) -> str | None:
    """A scheduler has ``decide(queue, cluster, now)`` (see :class:`Scheduler`), or is an order: ``key(job)``."""
    if callable(getattr(cls, "decide", None)):
        return lacks_methods(cls, "key(job)", "bind(fleet)") or next(
            (f"no attribute {a} (subclass dcsim.policies.scheduling.SchedulerBase for the defaults)"
             for a in ("epoch", "preempts") if not hasattr(cls, a)),
            None,
        )  # fmt: skip
    return lacks_methods(cls, "key(job)")


SCHEDULER: Registry[Any] = Registry(
    "scheduler",
    _not_a_scheduler,
    "a class with __init__(params, rng) and either key(job) and a backfill attribute, or "
    "decide(queue, cluster, now) (subclass dcsim.policies.scheduling.SchedulerBase); see docs/howto.md",
)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    backfill: bool = Field(False, description="start later jobs that fit when the first does not")


class _Base:
    Params = _Params

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.backfill = params.backfill


@SCHEDULER.register("fifo")
class Fifo(_Base):
    """First come, first served: order of submission. Cost per decision O(log queue)."""

    def key(self, job: JobView) -> float:
        """Submission time."""
        return job.submit_time


@SCHEDULER.register("sjf")
class ShortestJobFirst(_Base):
    """Shortest job first on the declared run time (or the class mean) on the job's fastest GPUs; ties -> earlier."""

    class Params(_Params):
        """SJF orders by a run time: each job's declared one, or its class mean."""

        estimate: Literal["declared", "class_mean"] = Field(
            "declared", description="declared run time of each job, or the mean of its class"
        )

    def key(self, job: JobView) -> float:
        """Declared (or class mean) run time on the job's fastest allowed GPUs, s."""
        run = job.estimate if self.params.estimate == "declared" else job.expected_duration
        speeds = getattr(job, "speeds", None)  # views made by hand (tests, notebooks) may not have it
        return run if speeds is None else run / max(speeds[p] for p in job.pools)


@SCHEDULER.register("priority")
class Priority(_Base):
    """Highest `priority` first; ties -> earlier submission. Cost per decision O(log queue)."""

    def key(self, job: JobView) -> tuple[int, float]:
        """Negated priority, then submission time."""
        return (-job.priority, job.submit_time)
