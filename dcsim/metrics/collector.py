"""The collector: receives event records from the model and keeps them column-wise.

Everything here follows from the declarations in :mod:`dcsim.metrics.records`. For each
record kind the collector holds one compact array per stored field (no object per
event, so a million jobs cost tens of megabytes) in the attribute the kind names
(``submitted``, ``started``, ...), and an emit function, ``on_<kind>(...)`` taking the
stored fields in order. Emit functions are generated, as :mod:`dataclasses` generates
``__init__``: straight-line code calling each column's bound ``append``, with no loop
or lookup per field, because the job records are emitted millions of times a run.
``records(kind)`` reads records back as the declared dataclasses; ``columns(kind)``
gives tables the arrays. Levels that hold between changes are :mod:`monitors`.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.metrics.monitors import Level
from dcsim.metrics.records import RECORDS, RecordKind, vocabularies

if TYPE_CHECKING:
    import pyarrow as pa

Emitter = Callable[..., Any]


def _emitter_factory(spec: RecordKind) -> Callable[..., Emitter]:
    """Compile the maker of a kind's emit function: it binds each column's ``append``.

    The maker takes the appends in column order, then the ``seq`` counter's ``__next__``
    and the first column's ``__len__`` (for the row an emitter with a :data:`Row` returns).
    """
    arguments = spec.arguments
    appends = [f"_{name}" for name, _ in spec.columns]
    body = [f"_{name}({name})" for name in arguments]
    if spec.ordered:
        body.append("_seq(_next_seq())")
    if spec.returns_row:
        body.append("return _rows() - 1")
    source = (
        f"def make({', '.join(appends)}, _next_seq, _rows):\n"
        f"    def {spec.emitter}({', '.join(arguments)}):\n"
        + "".join(f"        {line}\n" for line in body)
        + f"    return {spec.emitter}\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{spec.kind} emitter>", "exec"), namespace)  # source built from our own declarations only
    return namespace["make"]


_MAKERS: dict[str, Callable[..., Emitter]] = {}
"""Each kind's compiled emitter maker, made on first use (once per process)."""


def _numbers(values: array[Any]) -> np.ndarray:
    """An array's numbers as numpy (no copy)."""
    return np.frombuffer(values, dtype=values.typecode) if len(values) else np.array([], dtype=values.typecode)


class Collector:
    """Column-wise store of every event record of one run.

    Attributes (besides one dict of arrays and one ``on_*`` emitter per record kind):
        names: each vocabulary of coded text (``job_class``, ``tenant``, ``cause``): its names,
            in order of first use; a code is an index into it.
        down: GPUs out of service, a :class:`Level` (set by :meth:`on_down`).
    """

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {v: [] for v in vocabularies()}
        self._codes: dict[str, dict[str, int]] = {v: {} for v in self.names}
        next_seq = itertools.count().__next__  # order of emission across the ordered kinds
        for kind, spec in RECORDS.items():
            store = {name: array(s.typecode) for name, s in spec.columns}
            setattr(self, spec.store, store)
            columns = list(store.values())
            make = _MAKERS.get(kind) or _MAKERS.setdefault(kind, _emitter_factory(spec))
            emit = make(*(c.append for c in columns), next_seq, columns[0].__len__)
            setattr(self, spec.emitter, emit)
        self.down = Level("down_gpus", typecode="q")
        #: Job ids of the trace's jobs, in the trace's order (by submit time), their rows in the
        #: trace file, and the trace's ``job_id`` column (None: jobs are named by their row).
        self.trace_jobs: array[int] = array("q")
        self.trace_rows: np.ndarray | None = None
        self.trace_ids: pa.Array | None = None
        #: Checkpoint interval of each checkpointing job at its first start, s.
        self.checkpoint_intervals: dict[int, float] = {}
        #: Each job's demand where GPUs are shared (milli-CPU, MiB, GPUs, milli-GPU), by job id (else empty).
        self.demands: dict[int, tuple[int, int, int, int]] = {}
        #: Where GPUs are shared and fragmentation is measured: (time, milli-GPU fragmented) at each change.
        self.fragmentation: tuple[list[float], list[float]] = ([], [])
        #: Where GPUs are shared: at each timeseries sample, the shares of installed GPU, CPU and memory
        #: allocated (NaN: CPU or memory is not declared on every node).
        self.share_samples: list[tuple[float, float, float]] = []

    # Declared for type checkers; each is generated in __init__ from its record's declaration.
    submitted: dict[str, array[Any]]
    started: dict[str, array[Any]]
    elastic_spans: dict[str, array[Any]]
    finished: dict[str, array[Any]]
    interrupted: dict[str, array[Any]]
    overhead: dict[str, array[Any]]
    failures: dict[str, array[Any]]
    in_service: dict[str, array[Any]]
    repairs: dict[str, array[Any]]
    samples: dict[str, array[Any]]
    network_runs: dict[str, array[Any]]
    link_usage: dict[str, array[Any]]
    network_samples: dict[str, array[Any]]
    storage_transfers: dict[str, array[Any]]
    storage_usage: dict[str, array[Any]]
    storage_samples: dict[str, array[Any]]
    wan_transfers: dict[str, array[Any]]
    wan_usage: dict[str, array[Any]]
    routes: dict[str, array[Any]]
    requests: dict[str, array[Any]]
    replica_changes: dict[str, array[Any]]
    scale_decisions: dict[str, array[Any]]
    service_samples: dict[str, array[Any]]
    scenario_events: dict[str, array[Any]]
    on_job_submitted: Emitter
    on_job_started: Emitter
    on_elastic_span: Emitter
    on_job_finished: Emitter
    on_job_interrupted: Emitter
    on_overhead: Emitter
    on_component_failed: Emitter
    on_component_in_service: Emitter
    on_component_repaired: Emitter
    on_sample: Emitter
    on_network_run: Emitter
    on_link_usage: Emitter
    on_network_sample: Emitter
    on_storage_transfer: Emitter
    on_storage_usage: Emitter
    on_storage_sample: Emitter
    on_wan_transfer: Emitter
    on_wan_usage: Emitter
    on_job_routed: Emitter
    on_request: Emitter
    on_replica_change: Emitter
    on_scale_decision: Emitter
    on_service_sample: Emitter
    on_scenario_event: Emitter

    def code(self, vocabulary: str, name: str) -> int:
        """Small integer code of ``name`` in a vocabulary of coded text (a new name gets the next code)."""
        codes = self._codes[vocabulary]
        if name not in codes:
            codes[name] = len(self.names[vocabulary])
            self.names[vocabulary].append(name)
        return codes[name]

    def class_code(self, name: str) -> int:
        """Code of a job class name."""
        return self.code("job_class", name)

    def tenant_code(self, name: str) -> int:
        """Code of a tenant name."""
        return self.code("tenant", name)

    def cause_code(self, name: str) -> int:
        """Code of a failure cause name."""
        return self.code("cause", name)

    def service_code(self, name: str) -> int:
        """Code of a service name."""
        return self.code("service", name)

    @property
    def class_names(self) -> list[str]:
        """Job class names by code."""
        return self.names["job_class"]

    @property
    def tenant_names(self) -> list[str]:
        """Tenant names by code."""
        return self.names["tenant"]

    @property
    def cause_names(self) -> list[str]:
        """Failure cause names by code."""
        return self.names["cause"]

    def on_down(self, time: float, gpus: int) -> None:
        """GPUs out of service are ``gpus`` from ``time`` on (a second change at one instant replaces the first)."""
        self.down.set(time, gpus)

    @property
    def n_submitted(self) -> int:
        """Jobs submitted so far."""
        return len(self.submitted["time"])

    def store(self, kind: str) -> dict[str, array[Any]]:
        """The arrays of a record kind, by column (``seq`` included for an ordered kind).

        Raises:
            ValueError: no record kind has that name.
        """
        spec = RECORDS.get(kind)
        if spec is None:
            raise ValueError(f"unknown record kind {kind!r}; the kinds are {', '.join(RECORDS)}")
        out: dict[str, array[Any]] = getattr(self, spec.store)
        return out

    def columns(self, kind: str) -> dict[str, np.ndarray]:
        """A record kind's columns as numpy arrays of their stored types (no copy)."""
        return {name: _numbers(values) for name, values in self.store(kind).items()}

    def records(self, kind: str) -> Iterator[Any]:
        """Read back the records of one kind, in the order they were made."""
        store = self.store(kind)
        spec = RECORDS[kind]
        n = len(next(iter(store.values())))
        fields: list[Any] = []
        for name, s in spec.fields:
            if not s.stored:
                fields.append(range(n))
            elif s.names:
                fields.append(map(self.names[s.names].__getitem__, store[name]))
            elif s.flag:
                fields.append(map(bool, store[name]))
            else:
                fields.append(store[name])
        make = spec.type
        for values in zip(*fields, strict=True):
            yield make(*values)
