"""Immutable event records: the contract between the model and the metrics.

Each record kind is declared once, here, as a frozen dataclass whose fields carry their
storage type (:data:`F64`, :data:`I64`, :data:`I32`, :data:`I8`, :data:`Flag`, a coded
name such as :data:`CauseName`, or :data:`Row`). :func:`record` reads that declaration
into a :class:`RecordKind`, from which the rest follows
(:class:`dcsim.metrics.collector.Collector`): one typed array per stored field (plus
``seq``, the emission order, for kinds declared ``ordered``), the emit function
``on_<kind>(...)`` taking the stored fields in order, ``records(kind)`` reading them back
as instances of the dataclass, and the columns and dtypes of the tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar, get_type_hints

REPAIRED_BY = ("reboot", "technician", "trace")
"""How a failure was repaired, by the code the engine records."""


@dataclass(frozen=True)
class Storage:
    """How one field of a record is stored.

    Attributes:
        typecode: the :mod:`array` typecode of its column; "" for a field that is not
            stored (:data:`Row`: the record's row in its kind).
        flag: stored as an int8, read back as a bool.
        names: for coded text, the vocabulary its codes index (the emitter takes the code,
            from ``Collector.code(names, text)``; the read-back gives the text).
    """

    typecode: str
    flag: bool = False
    names: str = ""

    @property
    def stored(self) -> bool:
        """Whether the field has a column (a :data:`Row` field has none)."""
        return bool(self.typecode)

    @property
    def dtype(self) -> str:
        """The numpy dtype of its column in a table: float64, int64 or bool (coded text: its int32 codes)."""
        if self.flag:
            return "bool"
        if self.names:
            return "int32"
        return "float64" if self.typecode == "d" else "int64"


F64 = Annotated[float, Storage("d")]
I64 = Annotated[int, Storage("q")]
I32 = Annotated[int, Storage("i")]
I8 = Annotated[int, Storage("b")]
Flag = Annotated[bool, Storage("b", flag=True)]
Row = Annotated[int, Storage("")]
"""The record's row among the records of its kind (its id): not stored (the emitter may return it)."""
ClassName = Annotated[str, Storage("i", names="job_class")]
TenantName = Annotated[str, Storage("i", names="tenant")]
CauseName = Annotated[str, Storage("i", names="cause")]
ServiceName = Annotated[str, Storage("i", names="service")]
EventAction = Annotated[str, Storage("i", names="event_action")]
EventText = Annotated[str, Storage("i", names="event")]

SEQ = Storage("q")
"""The ``seq`` column of an ordered kind: the order of emission across every ordered kind."""


@dataclass(frozen=True)
class RecordKind:
    """What a record declaration defines: a kind's fields, storage and emitter.

    Attributes:
        kind: the kind's name (``job_started``), as ``records(kind)`` and tables name it.
        type: the record dataclass.
        store: the collector's attribute holding its columns (a dict of arrays).
        emitter: the collector's emit function's name (``on_<kind>`` unless declared).
        fields: every field of the record but ``kind``, in order, with its storage.
        ordered: whether it has a ``seq`` column.
        returns_row: whether its emitter returns the new record's row (its id, for a kind
            with a :data:`Row` field whose emitters need it).
    """

    kind: str
    type: type
    store: str
    emitter: str
    fields: tuple[tuple[str, Storage], ...]
    ordered: bool
    returns_row: bool

    @property
    def columns(self) -> tuple[tuple[str, Storage], ...]:
        """The stored columns, in order (``seq`` last for an ordered kind)."""
        stored = tuple((name, s) for name, s in self.fields if s.stored)
        return (*stored, ("seq", SEQ)) if self.ordered else stored

    @property
    def arguments(self) -> tuple[str, ...]:
        """The emitter's arguments: the stored fields, in order."""
        return tuple(name for name, s in self.fields if s.stored)


RECORDS: dict[str, RecordKind] = {}
"""Every declared record kind by name, in declaration order."""

T = TypeVar("T")


def record(
    store: str, *, ordered: bool = False, emitter: str = "", returns_row: bool = False
) -> Callable[[type[T]], type[T]]:
    """Declare a record dataclass a record kind: its kind is its ``kind`` field's default.

    Args:
        store: the collector's attribute for its columns.
        ordered: give it a ``seq`` column (emission order across ordered kinds).
        emitter: its emit function's name (default ``on_<kind>``).
        returns_row: its emitter returns the new record's row (off where no caller needs
            it: the job records are on the hot path).

    Raises:
        TypeError: a field has no storage type, or the kind is declared twice.
    """

    def declare(cls: type[T]) -> type[T]:
        hints = get_type_hints(cls, include_extras=True)
        kind = ""
        fields = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "kind":
                kind = str(f.default)
                continue
            storage = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Storage)]
            if not storage:
                raise TypeError(f"{cls.__name__}.{f.name}: declare its storage type (F64, I64, Flag, ...)")
            fields.append((f.name, storage[0]))
        if not kind or kind in RECORDS:
            raise TypeError(f"{cls.__name__}: a record needs a 'kind' field with a default of its own")
        RECORDS[kind] = RecordKind(kind, cls, store, emitter or f"on_{kind}", tuple(fields), ordered, returns_row)
        return cls

    return declare


def vocabularies() -> tuple[str, ...]:
    """The vocabularies of every coded field, in order of first use."""
    return tuple(dict.fromkeys(s.names for k in RECORDS.values() for _, s in k.fields if s.names))


# ---------------------------------------------------------------------- the record kinds
# Job ids are dense in submission order, so a submission's row is its job id.
@record("submitted", ordered=True)
@dataclass(frozen=True, slots=True)
class JobSubmitted:
    """A job entered the queue."""

    time: F64
    job_id: Row
    job_class: ClassName
    tenant: TenantName
    priority: I64
    gpus: I64
    duration_s: F64
    estimate_s: F64
    kind: str = "job_submitted"


@record("started", ordered=True)
@dataclass(frozen=True, slots=True)
class JobStarted:
    """A job got its GPUs: ``nodes`` nodes of ``pool`` from ``first_node`` on, in locality class ``locality``."""

    time: F64
    job_id: I64
    pool: I32
    first_node: I64
    nodes: I32
    racks: I32
    locality: I8
    kind: str = "job_started"


@record("finished", ordered=True)
@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job completed and released its GPUs."""

    time: F64
    job_id: I64
    kind: str = "job_finished"


@record("elastic_spans", emitter="on_elastic_span", returns_row=True)
@dataclass(frozen=True, slots=True)
class ElasticSpan:
    """An elastic job's run held ``gpus`` GPUs from ``time`` until ``until`` (NaN: still at the end).

    One per GPU count of each run: ``first`` marks the count a run started at, the others
    are resizes. ``pool`` is the run's (its first node's at its start), as its GPU-time is
    counted there.
    """

    time: F64
    job_id: I64
    pool: I32
    gpus: I32
    until: F64
    first: Flag
    kind: str = "elastic_span"


@record("interrupted", ordered=True)
@dataclass(frozen=True, slots=True)
class JobInterrupted:
    """A run cut short: by failure ``failure``, by maintenance, or preempted by a policy.

    ``lost_s`` of work since the last checkpoint were lost; the job pays ``restart_s``
    when it runs again, unless it was not requeued (failed after ``max_restarts``).
    ``reason`` is the code of its reason in :data:`dcsim.workload.jobs.REASONS`;
    ``failure`` is -1 unless the reason is a failure.
    """

    time: F64
    job_id: I64
    failure: I64
    lost_s: F64
    restart_s: F64
    requeued: Flag
    reason: I8
    kind: str = "job_interrupted"


@record("overhead", emitter="on_overhead")
@dataclass(frozen=True, slots=True)
class RunOverhead:
    """The non-productive seconds of one run of a job from ``start`` to ``end`` (or the end of the simulation).

    Only runs that had some: restart, checkpoint writes, work lost.
    """

    job_id: I64
    start: F64
    end: F64
    restart_s: F64
    checkpoint_s: F64
    lost_s: F64
    kind: str = "run_overhead"


@record("failures", ordered=True, returns_row=True)
@dataclass(frozen=True, slots=True)
class ComponentFailed:
    """Unit ``unit`` of component class ``component`` (0 gpu, 1 node, 2 rack, 3 site) failed."""

    time: F64
    failure: Row
    cause: CauseName
    component: I8
    unit: I64
    gpus_down: I64
    traced: Flag
    kind: str = "component_failed"


@record("in_service", ordered=True, emitter="on_component_in_service")
@dataclass(frozen=True, slots=True)
class ComponentRepaired:
    """The slot of failure ``failure`` is back in service (``spare``: a spare node stands in)."""

    failure: I64
    time: F64
    spare: Flag
    kind: str = "component_repaired"


@record("repairs", emitter="on_component_repaired")
@dataclass(frozen=True, slots=True)
class HardwareRepaired:
    """The failed hardware of failure ``failure`` is fixed at ``repaired``, ``how`` (:data:`REPAIRED_BY`).

    ``wait_technician_s`` and ``wait_part_s``: how long it waited for a technician and a part.
    """

    failure: I64
    repaired: F64
    wait_technician_s: F64
    wait_part_s: F64
    how: I8
    kind: str = "hardware_repaired"


@record("network_runs")
@dataclass(frozen=True, slots=True)
class NetworkRun:
    """One run of a job whose traffic crossed the fabric, from ``start`` to ``end`` (its end, or the simulation's).

    ``compute_s``: wall time it spent in its steps (compute and communication); ``idle_s``:
    what the same work takes alone on the NICs; ``work_s``: the work done (s at the reference
    GPU's speed on an idle fabric); ``bytes``: traffic it put on the fabric (every hop counted).
    """

    job_id: I64
    start: F64
    end: F64
    compute_s: F64
    idle_s: F64
    work_s: F64
    bytes: F64
    kind: str = "network_run"


@record("link_usage")
@dataclass(frozen=True, slots=True)
class LinkUsage:
    """A fabric link's traffic over the measured window, at the end of the simulation.

    ``tier``: 0 a NIC link; 1 the first switch tier's uplinks (a leaf's, an edge or rail
    switch's; a custom graph's switch-to-switch links); 2 a fat-tree pod's core uplinks
    (:data:`dcsim.infra.fabrics.TIERS`); ``capacity`` bits/s (nominal);
    ``bits`` carried inside the window.
    """

    link: I64
    tier: I8
    capacity: F64
    bits: F64
    kind: str = "link_usage"


@record("network_samples")
@dataclass(frozen=True, slots=True)
class NetworkSample:
    """The fabric's load at a timeseries sample: traffic over capacity of each tier's links.

    ``uplink_utilization`` is over every switch-to-switch link; ``core_utilization`` over a
    fat-tree's pod-to-core links alone (NaN without them).
    """

    time: F64
    nic_utilization: F64
    uplink_utilization: F64
    core_utilization: F64
    kind: str = "network_sample"


@record("storage_transfers")
@dataclass(frozen=True, slots=True)
class StorageTransfer:
    """A transfer between a job's nodes and its site's storage, from ``start`` to ``end``.

    ``read``: a restart's read of its checkpoint (else a write: a checkpoint, or the one a
    maintenance eviction owes, written at the restart); ``bytes`` moved (all of
    them when ``completed``; cut short by a lost run or the end of the simulation otherwise);
    ``idle_s``: what the whole transfer takes alone on idle storage.
    """

    job_id: I64
    read: Flag
    site: I32
    start: F64
    end: F64
    bytes: F64
    idle_s: F64
    completed: Flag
    kind: str = "storage_transfer"


@record("storage_usage")
@dataclass(frozen=True, slots=True)
class StorageUsage:
    """A storage link's use over the measured window, at the end of the simulation.

    ``rack`` is -1 for a site's link; ``capacity`` bits/s; ``bits`` carried and ``busy_s``
    seconds with some transfer on it, inside the window.
    """

    link: I64
    site: I32
    rack: I32
    capacity: F64
    bits: F64
    busy_s: F64
    kind: str = "storage_usage"


@record("storage_samples")
@dataclass(frozen=True, slots=True)
class StorageSample:
    """The sites' storage load at a timeseries sample: traffic over bandwidth."""

    time: F64
    storage_utilization: F64
    kind: str = "storage_sample"


@record("wan_transfers")
@dataclass(frozen=True, slots=True)
class WanTransfer:
    """A job's data moved over the WAN from site ``src`` to site ``dst``, from ``start`` to ``end``.

    ``end`` is when the last byte arrived (one path latency after it was sent) when
    ``completed``; else when it was cut by the end of the simulation. ``bytes`` moved;
    ``idle_s``: what it takes alone on an idle path (size over the slowest link, plus latency).
    """

    job_id: I64
    src: I32
    dst: I32
    start: F64
    end: F64
    bytes: F64
    idle_s: F64
    completed: Flag
    kind: str = "wan_transfer"


@record("wan_usage")
@dataclass(frozen=True, slots=True)
class WanUsage:
    """A WAN link's use over the measured window, at the end of the simulation (``capacity`` bits/s each way)."""

    link: I64
    capacity: F64
    bits: F64
    busy_s: F64
    kind: str = "wan_usage"


@record("routes")
@dataclass(frozen=True, slots=True)
class JobRouted:
    """A site router sent job ``job_id`` to ``site`` at ``time`` (``attempt``: 0 at submission, then per requeue).

    ``deferred_s``: how long it was held back for a better moment before this (0: routed at once).
    """

    time: F64
    job_id: I64
    site: I32
    attempt: I32
    deferred_s: F64
    kind: str = "job_routed"


REQUEST_STATUS = ("completed", "rejected", "failed", "unfinished")
"""How a request ended, by the code the engine records: served; refused (its replica's queue, or the
service's buffer while no replica was ready, was full); lost with its replica (a failure or an eviction)
and not retried, or lost a second time; still in flight when the run ended."""

REPLICA_CHANGES = ("requested", "placed", "ready", "draining", "stopped", "lost")
"""What happened to a replica, by the code the engine records: the autoscaler (or a lost replica's
replacement) asked for it; it got its GPUs and began its cold start; it began serving; it stopped taking
requests (scaled down); it gave its GPUs back; a failure, maintenance or a preemption took it down."""


@record("requests", emitter="on_request")
@dataclass(frozen=True, slots=True)
class RequestDone:
    """A request of ``service`` that arrived at ``arrival`` ended at ``end`` (:data:`REQUEST_STATUS` ``status``).

    ``first_token`` is when its first output token came (NaN without a token model, or if it
    never came); ``replica`` the replica that ended it (-1: none); ``retried``: it was sent
    to a second replica after its first was lost; ``site`` the site (index in
    ``datacenter.sites``) of that replica, or the site it waited at (-1: none); ``origin`` the site its user is at (a
    service with ``sites``; -1: not modelled). A completed request's ``first_token`` and
    ``end`` include the round trip between its origin and the site that served it.
    """

    service: ServiceName
    arrival: F64
    first_token: F64
    end: F64
    replica: I64
    status: I8
    retried: Flag
    site: I32
    origin: I32
    kind: str = "request_done"


@record("replica_changes")
@dataclass(frozen=True, slots=True)
class ReplicaChange:
    """Replica ``replica`` of ``service`` went through change ``change`` (:data:`REPLICA_CHANGES`) at ``time``.

    ``node`` is its first node (-1 before it is placed), ``gpus`` the GPUs it holds or asks for.
    """

    time: F64
    service: ServiceName
    replica: I64
    change: I8
    node: I64
    gpus: I64
    kind: str = "replica_change"


@record("scale_decisions")
@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """An autoscaler's decision at ``time``: it asked for ``desired``; ``applied`` is that within the bounds.

    ``current`` replicas were asked for before it (``ready`` of them serving); ``site``: the site
    (index in ``datacenter.sites``) whose replicas it scales, for a service with ``sites`` (-1: the
    whole fleet).
    """

    time: F64
    service: ServiceName
    current: I64
    ready: I64
    desired: I64
    applied: I64
    site: I32
    kind: str = "scale_decision"


@record("service_samples")
@dataclass(frozen=True, slots=True)
class ServiceSample:
    """A service's state at a timeseries sample: replicas by state, requests in flight, arrivals so far."""

    time: F64
    service: ServiceName
    replicas: I64
    ready: I64
    starting: I64
    pending: I64
    outstanding: I64
    arrived: I64
    kind: str = "service_sample"


@record("samples")
@dataclass(frozen=True, slots=True)
class Sample:
    """A timeseries sample of the data center's state."""

    time: F64
    busy_gpus: I64
    queued_jobs: I64
    running_jobs: I64
    power_w: F64
    kind: str = "sample"


@record("scenario_events")
@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """Timed event ``event`` (its index in the scenario's ``events``) began (``phase`` 0) or ended (1).

    ``action`` is what it does (``set``, ``fail``, ...), ``what`` the event in words.
    """

    time: F64
    event: I64
    phase: I8
    action: EventAction
    what: EventText
    kind: str = "scenario_event"
