"""Job schedulers: the order in which queued jobs are offered to placement.

A scheduler gives each job a sort key when it is queued (smaller runs first; ties
go to the earlier submission). With ``backfill: false`` the queue is strict: when the
first job does not fit, nothing behind it starts. With ``backfill: true`` later jobs
that fit start in its place (greedy, no reservation, so large jobs can wait long).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dcsim.core.registry import Registry, lacks_methods
from dcsim.views import JobView

if TYPE_CHECKING:
    import numpy as np


class SchedulerPolicy(Protocol):
    """Orders the queue: ``key(job)`` is fixed when the job is queued; smaller runs first."""

    backfill: bool

    def key(self, job: JobView) -> Any:
        """Sort key of a queued job (compared with ``<``)."""


def _not_a_scheduler(cls: type) -> str | None:
    """A scheduler orders the queue (``key``) or, with ``batch = True``, decides per epoch (``decide``)."""
    if getattr(cls, "batch", False) is True:
        return lacks_methods(cls, "decide(jobs, cluster, now)")
    return lacks_methods(cls, "key(job)")


SCHEDULER: Registry[SchedulerPolicy] = Registry(
    "scheduler",
    _not_a_scheduler,
    "a class with __init__(params, rng), a backfill attribute and key(job), or batch = True and "
    "decide(jobs, cluster, now); see docs/howto.md",
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
