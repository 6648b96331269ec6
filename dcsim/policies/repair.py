"""Repair policies: the order in which waiting failures get a technician.

A repair policy gives each failure that needs hands-on repair a sort key when it
starts waiting for a technician (smaller goes first; ties go to the earlier failure).
The engine queues the failures on a SimPy ``PriorityResource`` of technicians with that
key, so a policy never yields or touches the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dcsim.core.registry import NoParams, Registry, lacks_methods
from dcsim.views import FailureView

if TYPE_CHECKING:
    import numpy as np


class RepairPolicy(Protocol):
    """Orders the technicians' queue: ``key(failure)`` is fixed when the failure starts waiting."""

    def key(self, failure: FailureView) -> Any:
        """Sort key of a failure waiting for a technician (compared with ``<``)."""


REPAIR: Registry[RepairPolicy] = Registry(
    "repair",
    lambda cls: lacks_methods(cls, "key(failure)"),
    "a class with __init__(params, rng) and key(failure); see docs/howto.md",
)


_Params = NoParams  # the base of every built-in's Params: unknown keys refused, frozen


class _Base:
    Params = _Params

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng


@REPAIR.register("fifo")
class FifoRepair(_Base):
    """First failed, first repaired."""

    def key(self, failure: FailureView) -> float:
        """Failure time."""
        return failure.time


@REPAIR.register("most_gpus_first")
class MostGpusFirst(_Base):
    """Impact first: the failure that keeps the most GPUs out of service; ties -> earlier failure."""

    def key(self, failure: FailureView) -> tuple[int, float]:
        """Negated GPUs out of service, then failure time."""
        return (-failure.gpus_down, failure.time)
