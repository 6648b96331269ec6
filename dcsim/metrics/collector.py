"""The collector: receives event records from the model and keeps them column-wise.

Model code calls ``on_<kind>(...)`` with the record's fields; this keeps one compact
array per field (no object per event), so a million jobs cost tens of megabytes.
``records(kind)`` reads them back as :mod:`dcsim.metrics.records` instances.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.metrics import records as rec

if TYPE_CHECKING:
    import pyarrow as pa


class Collector:
    """Column-wise store of every event record of one run."""

    def __init__(self) -> None:
        self.class_names: list[str] = []
        self.tenant_names: list[str] = []
        self._class_index: dict[str, int] = {}
        self._tenant_index: dict[str, int] = {}
        self.submitted: dict[str, array[Any]] = {
            "time": array("d"), "job_class": array("i"), "tenant": array("i"), "priority": array("q"),
            "gpus": array("q"), "duration_s": array("d"), "estimate_s": array("d"), "seq": array("q"),
        }  # fmt: skip
        #: Job ids of the trace's jobs, in the trace's order (by submit time), their rows in the
        #: trace file, and the trace's ``job_id`` column (None: jobs are named by their row).
        self.trace_jobs: array[int] = array("q")
        self.trace_rows: np.ndarray | None = None
        self.trace_ids: pa.Array | None = None
        #: Checkpoint interval of each checkpointing job at its first start, s.
        self.checkpoint_intervals: dict[int, float] = {}
        self.started: dict[str, array[Any]] = {
            "time": array("d"), "job_id": array("q"), "pool": array("i"), "first_node": array("q"), "nodes": array("i"),
            "racks": array("i"), "locality": array("b"), "seq": array("q"),
        }  # fmt: skip
        self.finished: dict[str, array[Any]] = {"time": array("d"), "job_id": array("q"), "seq": array("q")}
        # A run cut short: by a failure (failure >= 0) or a maintenance eviction (-1).
        self.interrupted: dict[str, array[Any]] = {
            "time": array("d"), "job_id": array("q"), "failure": array("q"), "lost_s": array("d"),
            "restart_s": array("d"), "requeued": array("b"), "reason": array("b"), "seq": array("q"),
        }  # fmt: skip
        # Non-productive parts of runs (only runs that had some): restart, checkpoint
        # writes, work lost; ``end`` is the run's end (or the end of the simulation).
        self.overhead: dict[str, array[Any]] = {
            "job_id": array("q"), "start": array("d"), "end": array("d"), "restart_s": array("d"),
            "checkpoint_s": array("d"), "lost_s": array("d"),
        }  # fmt: skip
        self.failures: dict[str, array[Any]] = {
            "time": array("d"), "cause": array("i"), "component": array("b"), "unit": array("q"),
            "gpus_down": array("q"), "traced": array("b"), "seq": array("q"),
        }  # fmt: skip
        self.cause_names: list[str] = []
        self._cause_index: dict[str, int] = {}
        self.in_service: dict[str, array[Any]] = {
            "failure": array("q"), "time": array("d"), "spare": array("b"), "seq": array("q"),
        }  # fmt: skip
        self.repairs: dict[str, array[Any]] = {
            "failure": array("q"), "repaired": array("d"), "wait_technician_s": array("d"),
            "wait_part_s": array("d"), "how": array("b"),
        }  # fmt: skip
        # Level of GPUs out of service, at each change.
        self.down: dict[str, array[Any]] = {"time": array("d"), "gpus": array("q")}
        self._seq = 0  # order of emission across the job records
        self.samples: dict[str, array[Any]] = {
            "time": array("d"), "busy_gpus": array("q"), "queued_jobs": array("q"),
            "running_jobs": array("q"), "power_w": array("d"),
        }  # fmt: skip

    def code(self, table: dict[str, int], names: list[str], name: str) -> int:
        """Small integer code of a class or tenant name."""
        if name not in table:
            table[name] = len(names)
            names.append(name)
        return table[name]

    def class_code(self, name: str) -> int:
        """Code of a job class name."""
        return self.code(self._class_index, self.class_names, name)

    def tenant_code(self, name: str) -> int:
        """Code of a tenant name."""
        return self.code(self._tenant_index, self.tenant_names, name)

    # The model's calls, one per record kind. Job ids are dense in submission order,
    # so the row of a submission is its job id.
    def on_job_submitted(
        self, time: float, class_code: int, tenant_code: int, priority: int,
        gpus: int, duration_s: float, estimate_s: float,
    ) -> None:  # fmt: skip
        """Record a ``job_submitted``."""
        s = self.submitted
        s["time"].append(time)
        s["job_class"].append(class_code)
        s["tenant"].append(tenant_code)
        s["priority"].append(priority)
        s["gpus"].append(gpus)
        s["duration_s"].append(duration_s)
        s["estimate_s"].append(estimate_s)
        s["seq"].append(self._seq)
        self._seq += 1

    def on_job_started(
        self, time: float, job_id: int, pool: int, first_node: int, nodes: int, racks: int, locality: int
    ) -> None:
        """Record a ``job_started``."""
        s = self.started
        s["time"].append(time)
        s["job_id"].append(job_id)
        s["pool"].append(pool)
        s["first_node"].append(first_node)
        s["nodes"].append(nodes)
        s["racks"].append(racks)
        s["locality"].append(locality)
        s["seq"].append(self._seq)
        self._seq += 1

    def on_job_finished(self, time: float, job_id: int) -> None:
        """Record a ``job_finished``."""
        self.finished["time"].append(time)
        self.finished["job_id"].append(job_id)
        self.finished["seq"].append(self._seq)
        self._seq += 1

    def on_job_interrupted(
        self, time: float, job_id: int, failure: int, lost_s: float, restart_s: float, requeued: bool, reason: int
    ) -> None:
        """Record a ``job_interrupted``: ``lost_s`` of work lost; ``restart_s`` to pay before it runs again.

        ``reason``: the code of its reason (:data:`dcsim.workload.jobs.REASONS`).
        """
        s = self.interrupted
        s["time"].append(time)
        s["job_id"].append(job_id)
        s["failure"].append(failure)
        s["lost_s"].append(lost_s)
        s["restart_s"].append(restart_s)
        s["requeued"].append(requeued)
        s["reason"].append(reason)
        s["seq"].append(self._seq)
        self._seq += 1

    def on_overhead(
        self, job_id: int, start: float, end: float, restart_s: float, checkpoint_s: float, lost_s: float
    ) -> None:
        """Record the non-productive seconds of one run of a job."""
        s = self.overhead
        s["job_id"].append(job_id)
        s["start"].append(start)
        s["end"].append(end)
        s["restart_s"].append(restart_s)
        s["checkpoint_s"].append(checkpoint_s)
        s["lost_s"].append(lost_s)

    def cause_code(self, name: str) -> int:
        """Code of a failure cause name."""
        return self.code(self._cause_index, self.cause_names, name)

    def on_component_failed(
        self, time: float, cause: int, component: int, unit: int, gpus_down: int, traced: bool
    ) -> int:
        """Record a ``component_failed``; return the failure id."""
        s = self.failures
        s["time"].append(time)
        s["cause"].append(cause)
        s["component"].append(component)
        s["unit"].append(unit)
        s["gpus_down"].append(gpus_down)
        s["traced"].append(traced)
        s["seq"].append(self._seq)
        self._seq += 1
        return len(s["time"]) - 1

    def on_component_in_service(self, failure: int, time: float, spare: bool) -> None:
        """Record that the failed unit's slot is back in service (repaired, or a spare node stood in)."""
        s = self.in_service
        s["failure"].append(failure)
        s["time"].append(time)
        s["spare"].append(spare)
        s["seq"].append(self._seq)
        self._seq += 1

    def on_component_repaired(
        self, failure: int, repaired: float, wait_technician_s: float, wait_part_s: float, how: int
    ) -> None:
        """Record a ``component_repaired``: the failed hardware is fixed."""
        s = self.repairs
        s["failure"].append(failure)
        s["repaired"].append(repaired)
        s["wait_technician_s"].append(wait_technician_s)
        s["wait_part_s"].append(wait_part_s)
        s["how"].append(how)

    def on_down(self, time: float, gpus: int) -> None:
        """Record the number of GPUs out of service from ``time`` on."""
        d = self.down
        if d["time"] and d["time"][-1] == time:
            d["gpus"][-1] = gpus
        else:
            d["time"].append(time)
            d["gpus"].append(gpus)

    def on_sample(self, time: float, busy: int, queued: int, running: int, power_w: float) -> None:
        """Record a timeseries ``sample``."""
        s = self.samples
        s["time"].append(time)
        s["busy_gpus"].append(busy)
        s["queued_jobs"].append(queued)
        s["running_jobs"].append(running)
        s["power_w"].append(power_w)

    @property
    def n_submitted(self) -> int:
        """Jobs submitted so far."""
        return len(self.submitted["time"])

    @staticmethod
    def columns(table: dict[str, array[Any]]) -> dict[str, np.ndarray]:
        """A table's columns as numpy arrays (no copy)."""
        return {k: np.frombuffer(v, dtype=v.typecode) if len(v) else np.array([], dtype=v.typecode)
                for k, v in table.items()}  # fmt: skip

    def records(self, kind: str) -> Iterator[object]:
        """Read back the records of one kind, in the order they were made."""
        if kind == "job_submitted":
            s = self.submitted
            for i in range(len(s["time"])):
                yield rec.JobSubmitted(
                    s["time"][i], i, self.class_names[s["job_class"][i]], self.tenant_names[s["tenant"][i]],
                    s["priority"][i], s["gpus"][i], s["duration_s"][i], s["estimate_s"][i],
                )  # fmt: skip
        elif kind == "job_started":
            s = self.started
            for i in range(len(s["time"])):
                yield rec.JobStarted(
                    *(s[k][i] for k in ("time", "job_id", "pool", "first_node", "nodes", "racks", "locality"))
                )
        elif kind == "job_finished":
            for t, j in zip(self.finished["time"], self.finished["job_id"], strict=True):
                yield rec.JobFinished(t, j)
        elif kind == "job_interrupted":
            s = self.interrupted
            for i in range(len(s["time"])):
                yield rec.JobInterrupted(
                    s["time"][i], s["job_id"][i], s["failure"][i], s["lost_s"][i], s["restart_s"][i],
                    bool(s["requeued"][i]),
                )  # fmt: skip
        elif kind == "component_failed":
            s = self.failures
            for i in range(len(s["time"])):
                yield rec.ComponentFailed(
                    s["time"][i], i, self.cause_names[s["cause"][i]], s["component"][i], s["unit"][i],
                    s["gpus_down"][i], bool(s["traced"][i]),
                )  # fmt: skip
        elif kind == "component_repaired":
            s = self.in_service
            for i in range(len(s["time"])):
                yield rec.ComponentRepaired(s["time"][i], s["failure"][i], bool(s["spare"][i]))
        elif kind == "sample":
            s = self.samples
            for i in range(len(s["time"])):
                yield rec.Sample(*(s[k][i] for k in ("time", "busy_gpus", "queued_jobs", "running_jobs", "power_w")))
        else:
            raise ValueError(f"unknown record kind {kind!r}")
