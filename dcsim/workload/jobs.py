"""Gang-scheduled training jobs as the engine tracks them."""

from __future__ import annotations

QUEUED, RUNNING, COMPLETED, FAILED = 0, 1, 2, 3
STATE_NAMES = ("queued", "running", "completed", "failed")


class Job:
    """One job: all its GPUs start together and are released together.

    Attributes are plain slots for speed; policies read them through
    :class:`dcsim.views.JobView` and never write them.
    """

    __slots__ = (
        "duration",
        "estimate",
        "expected_duration",
        "gpus",
        "id",
        "job_class",
        "placement",
        "pools",
        "priority",
        "start_time",
        "state",
        "submit_time",
        "tenant",
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

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.job_class}, gpus={self.gpus}, duration={self.duration:g})"
