"""Gang-scheduled training jobs as the engine tracks them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED = 0, 1, 2, 3, 4
STATE_NAMES = ("queued", "running", "completed", "failed")
"""Names of the states a job can end a run in (INTERRUPTED is transient: the job is queued again)."""
REASONS = ("failure", "maintenance", "priority", "quota", "scale_up", "decommissioned")
"""Why a holder of GPUs loses them before its end (its code is its index): a failure, a
maintenance eviction, a policy's preemption for priority, quota or a service's scale-up, or
its rack removed by a timed event."""
FAILURE, MAINTENANCE = REASONS.index("failure"), REASONS.index("maintenance")
"""The codes of the two reasons that are not a policy's, before the preemptions'."""
DECOMMISSIONED = REASONS.index("decommissioned")
"""The code of a run whose rack was removed; the codes between MAINTENANCE and it are preemptions."""
PREEMPT_REASONS = REASONS[MAINTENANCE + 1 : DECOMMISSIONED]
"""The reasons a policy may preempt a run for."""

if TYPE_CHECKING:
    from dcsim.faults.checkpoint import RunClock
    from dcsim.infra.shares import Demand
    from dcsim.infra.sharing import Slot
    from dcsim.workload.elastic import ElasticPlan


class Holder(Protocol):
    """Anything that holds GPUs (a job's run; a service replica).

    Failures, maintenance and preemption treat them alike.
    """

    @property
    def id(self) -> int:
        """Its id (holders hit at once are lost in id order)."""

    @property
    def placement(self) -> list[tuple[int, int]]:
        """``(node, GPUs)`` it holds."""

    def lose(self, reason: str, failure: Any = None) -> None:
        """Give its GPUs back now, for ``reason`` (one of :data:`REASONS`); ``failure`` is the failure, if one."""


Checkpointing = tuple[float, float, float]
"""(interval, write, restart) in s; interval NaN means Young/Daly, computed at each start."""


class Job:
    """One job: all its GPUs start together and are released together.

    Attributes are plain slots for speed; policies read them through
    :class:`dcsim.views.JobView` and never write them. An interrupted job is queued
    again as a new object (:meth:`requeued`) with the same id, so entries of the old
    one left in queues stay dead.
    """

    __slots__ = (
        "attained",
        "checkpoint",
        "checkpoint_size",
        "clock",
        "communication",
        "demand",
        "duration",
        "elastic",
        "estimate",
        "expected_duration",
        "gpus",
        "held",
        "id",
        "interruptions",
        "job_class",
        "last_run",
        "placement",
        "pools",
        "priority",
        "rate",
        "restart_cost",
        "restarts",
        "run_interval",
        "run_write",
        "runs",
        "slots",
        "speeds",
        "start_time",
        "state",
        "submit_time",
        "tenant",
        "token",
        "work_left",
        "write_owed",
    )

    def __init__(
        self,
        id: int,
        job_class: str,
        tenant: str,
        priority: int,
        gpus: int,
        duration: float,
        estimate: float,
        expected_duration: float,
        submit_time: float,
        pools: tuple[int, ...],
    ) -> None:
        self.id = id
        self.job_class = job_class
        self.tenant = tenant
        self.priority = priority
        self.gpus = gpus
        self.duration = duration
        self.estimate = estimate
        self.expected_duration = expected_duration
        self.submit_time = submit_time
        self.pools = pools
        self.state = QUEUED
        self.start_time = -1.0
        self.placement: list[tuple[int, int]] = []
        self.checkpoint: Checkpointing | None = None
        #: Bytes of a sized checkpoint, written and read through the site's storage (0: a fixed write time).
        self.checkpoint_size = 0.0
        #: A maintenance eviction's checkpoint, written on the way out, is still to be paid (at this restart).
        self.write_owed = False
        #: (pattern, bytes per step, compute per step in s) of a class with a communication profile.
        self.communication: tuple[str, float, float] | None = None
        self.work_left = duration
        self.restarts = 0
        self.interruptions = 0
        self.restart_cost = 0.0
        self.run_interval = float("inf")
        self.run_write = 0.0  # expected time of one checkpoint write in the current run, s (EASY's estimated end)
        self.rate = 1.0  # s of work per s in the current run
        self.speeds: tuple[float, ...] | None = None  # rate per pool id (None: 1 everywhere)
        self.clock: RunClock | None = None  # the run's position once its rate has changed
        self.token = 0  # the run's pending end event is the one with this token
        #: An elastic class's GPU range and speed-up curve (None: rigid, it runs on ``gpus``).
        self.elastic: ElasticPlan | None = None
        #: GPUs the run holds now (an elastic job's; a rigid one holds ``gpus``).
        self.held = gpus
        #: GPU-seconds held in its earlier runs (LAS, Tiresias), and (start, end) of its last run (None: none yet).
        self.attained = 0.0
        self.last_run: tuple[float, float] | None = None
        #: What the job asks of a node where GPUs are shared (CPU, memory, a share of a GPU; None: whole GPUs
        #: only), and, while it runs there, its slots: (node, demand there, GPU indices) (None: not shared).
        self.demand: Demand | None = None
        self.slots: tuple[Slot, ...] | None = None

    def lose(self, reason: str, failure: Any = None) -> None:
        """Lose the GPUs of this run now (a :class:`Holder`): see :meth:`dcsim.engine.runs.Runs.lose`."""
        self.runs.lose(self, reason, failure)

    def requeued(self, work_left: float, failed: bool = True) -> Job:
        """The job as it goes back to the queue after an interruption, with ``work_left`` s to do.

        ``failed``: a failure cut it short (counts toward ``max_restarts``), not maintenance.
        """
        job = Job(self.id, self.job_class, self.tenant, self.priority, self.gpus, self.duration, self.estimate,
                  self.expected_duration, self.submit_time, self.pools)  # fmt: skip
        job.checkpoint = self.checkpoint
        job.checkpoint_size = self.checkpoint_size
        job.speeds = self.speeds
        job.communication = self.communication
        job.elastic = self.elastic
        job.work_left = work_left
        job.restarts = self.restarts + 1
        job.interruptions = self.interruptions + failed
        job.attained = self.attained
        job.last_run = self.last_run
        job.demand = self.demand
        return job

    def __lt__(self, other: Job) -> bool:
        """Order of two attempts of one job in a queue (compared only when key and id tie)."""
        return self.restarts < other.restarts

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.job_class}, gpus={self.gpus}, duration={self.duration:g})"
