"""Immutable event records: the contract between the model and the metrics.

On the hot path the collector stores them column-wise (one array per field); these
types are how they read back one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

REPAIRED_BY = ("reboot", "technician", "trace")
"""How a failure was repaired, by the code the engine records."""


@dataclass(frozen=True, slots=True)
class JobSubmitted:
    """A job entered the queue."""

    time: float
    job_id: int
    job_class: str
    tenant: str
    priority: int
    gpus: int
    duration_s: float
    estimate_s: float
    kind: str = "job_submitted"


@dataclass(frozen=True, slots=True)
class JobStarted:
    """A job got its GPUs: ``nodes`` nodes of ``pool`` from ``first_node`` on, in locality class ``locality``."""

    time: float
    job_id: int
    pool: int
    first_node: int
    nodes: int
    racks: int
    locality: int
    kind: str = "job_started"


@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job completed and released its GPUs."""

    time: float
    job_id: int
    kind: str = "job_finished"


@dataclass(frozen=True, slots=True)
class JobInterrupted:
    """A run cut short by failure ``failure`` (-1: a maintenance eviction).

    ``lost_s`` of work since the last checkpoint were lost; the job pays ``restart_s``
    when it runs again, unless it was not requeued (failed after ``max_restarts``).
    """

    time: float
    job_id: int
    failure: int
    lost_s: float
    restart_s: float
    requeued: bool
    kind: str = "job_interrupted"


@dataclass(frozen=True, slots=True)
class ComponentFailed:
    """Unit ``unit`` of component class ``component`` (0 gpu, 1 node, 2 rack, 3 site) failed."""

    time: float
    failure: int
    cause: str
    component: int
    unit: int
    gpus_down: int
    traced: bool
    kind: str = "component_failed"


@dataclass(frozen=True, slots=True)
class ComponentRepaired:
    """The slot of failure ``failure`` is back in service (``spare``: a spare node stands in)."""

    time: float
    failure: int
    spare: bool
    kind: str = "component_repaired"


@dataclass(frozen=True, slots=True)
class Sample:
    """A timeseries sample of the data center's state."""

    time: float
    busy_gpus: int
    queued_jobs: int
    running_jobs: int
    power_w: float
    kind: str = "sample"
