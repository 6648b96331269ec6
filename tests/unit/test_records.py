"""Record kinds are declared once; columns, emitters, read-back and tables follow from the declaration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import get_type_hints

import numpy as np
import pytest

from dcsim.metrics import records as rec
from dcsim.metrics.collector import Collector
from dcsim.metrics.records import F64, I8, I32, I64, RECORDS, Flag, Row, record
from dcsim.metrics.tables import events_table, interruptions_table, overhead_table, record_table

# One record of every kind, its fields by name (a Row field: the record's row, here 0).
EXAMPLES = {
    "job_submitted": {"time": 1.5, "job_id": 0, "job_class": "train", "tenant": "t1", "priority": 3, "gpus": 8,
                      "duration_s": 3600.0, "estimate_s": 7200.0},
    "job_started": {"time": 2.5, "job_id": 0, "pool": 1, "first_node": 4, "nodes": 2, "racks": 1, "locality": 1},
    "elastic_span": {"time": 2.5, "job_id": 0, "pool": 1, "gpus": 12, "until": 7.0, "first": True},
    "job_finished": {"time": 3.5, "job_id": 0},
    "job_interrupted": {"time": 3.0, "job_id": 0, "failure": 0, "lost_s": 60.0, "restart_s": 30.0, "reason": 0,
                        "requeued": True},
    "run_overhead": {"job_id": 0, "start": 2.5, "end": 3.0, "restart_s": 30.0, "checkpoint_s": 5.0, "lost_s": 60.0},
    "network_run": {"job_id": 0, "start": 2.5, "end": 3.0, "compute_s": 0.4, "idle_s": 0.3, "work_s": 0.3,
                    "bytes": 1e9},
    "link_usage": {"link": 3, "tier": 1, "capacity": 1e11, "bits": 5e14},
    "network_sample": {"time": 60.0, "nic_utilization": 0.25, "uplink_utilization": 0.5, "core_utilization": 0.75},
    "storage_transfer": {"job_id": 0, "read": True, "site": 0, "start": 2.5, "end": 3.0, "bytes": 2e12,
                         "idle_s": 0.25, "completed": False},
    "storage_usage": {"link": 1, "site": 0, "rack": -1, "capacity": 1.6e12, "bits": 8e15, "busy_s": 40.0},
    "storage_sample": {"time": 60.0, "storage_utilization": 0.75},
    "wan_transfer": {"job_id": 0, "src": 0, "dst": 1, "start": 2.5, "end": 3.0, "bytes": 2e12, "idle_s": 0.25,
                     "completed": True},
    "wan_usage": {"link": 0, "capacity": 1e11, "bits": 8e15, "busy_s": 40.0},
    "job_routed": {"time": 2.0, "job_id": 0, "site": 1, "attempt": 0, "deferred_s": 3600.0},
    "component_failed": {"time": 3.0, "failure": 0, "cause": "node", "component": 1, "unit": 4, "gpus_down": 8,
                         "traced": False},
    "component_repaired": {"failure": 0, "time": 9.0, "spare": True},
    "hardware_repaired": {"failure": 0, "repaired": 10.0, "wait_technician_s": 1.0, "wait_part_s": 2.0, "how": 1},
    "sample": {"time": 5.0, "busy_gpus": 16, "queued_jobs": 2, "running_jobs": 3, "power_w": 1234.5},
    "request_done": {"service": "chat", "arrival": 1.0, "first_token": 1.25, "end": 2.5, "replica": 3, "status": 0,
                     "retried": True, "site": 1, "origin": 0},
    "replica_change": {"time": 4.0, "service": "chat", "replica": 3, "change": 2, "node": 7, "gpus": 4},
    "scale_decision": {"time": 15.0, "service": "chat", "current": 4, "ready": 3, "desired": 6, "applied": 5,
                       "site": -1},
    "service_sample": {"time": 60.0, "service": "chat", "replicas": 5, "ready": 4, "starting": 1, "pending": 0,
                       "outstanding": 17, "arrived": 1200},
    "scenario_event": {"time": 7200.0, "event": 1, "phase": 0, "action": "fail", "what": "at 2 h: fail site dc1"},
}  # fmt: skip


def emit(col: Collector, kind: str, values: dict) -> object:
    """Emit one record through the kind's emitter, coding text as the model does."""
    spec = RECORDS[kind]
    args = []
    for name in spec.arguments:
        storage = dict(spec.fields)[name]
        args.append(col.code(storage.names, values[name]) if storage.names else values[name])
    return getattr(col, spec.emitter)(*args)


def test_every_record_kind_has_an_example_here() -> None:
    assert set(EXAMPLES) == set(RECORDS)


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_a_record_emitted_reads_back_equal(kind: str) -> None:
    col = Collector()
    emit(col, kind, EXAMPLES[kind])
    (back,) = col.records(kind)
    assert back == RECORDS[kind].type(**EXAMPLES[kind])
    assert back.kind == kind
    assert [type(getattr(back, f)) for f in EXAMPLES[kind]] == [type(v) for v in EXAMPLES[kind].values()]


def test_records_read_back_in_emission_order_with_rows_as_ids() -> None:
    col = Collector()
    for i, cause in enumerate(["node", "gpu", "node"]):
        fid = col.on_component_failed(float(i), col.cause_code(cause), 1, i, 8, False)
        assert fid == i  # the emitter of a kind declared returns_row gives the new row: the failure id
    assert [(r.failure, r.cause, r.unit) for r in col.records("component_failed")] == [
        (0, "node", 0), (1, "gpu", 1), (2, "node", 2)
    ]  # fmt: skip
    assert col.cause_names == ["node", "gpu"]


def test_the_columns_and_typecodes_follow_from_the_declaration() -> None:
    col = Collector()
    for kind, spec in RECORDS.items():
        store = getattr(col, spec.store)
        hints = get_type_hints(spec.type, include_extras=True)
        expected = [(f.name, hints[f.name].__metadata__[0].typecode) for f in dataclasses.fields(spec.type)
                    if f.name != "kind" and hints[f.name].__metadata__[0].stored]  # fmt: skip
        if spec.ordered:
            expected.append(("seq", "q"))
        assert [(name, a.typecode) for name, a in store.items()] == expected, kind
        assert col.store(kind) is store
    assert [(n, a.typecode) for n, a in col.started.items()] == [
        ("time", "d"), ("job_id", "q"), ("pool", "i"), ("first_node", "q"), ("nodes", "i"), ("racks", "i"),
        ("locality", "b"), ("seq", "q"),
    ]  # fmt: skip
    assert list(col.submitted) == ["time", "job_class", "tenant", "priority", "gpus", "duration_s", "estimate_s",
                                   "seq"]  # fmt: skip


def test_the_collector_declares_every_generated_store_and_emitter_for_type_checkers() -> None:
    declared = set(Collector.__annotations__)
    for spec in RECORDS.values():
        assert {spec.store, spec.emitter} <= declared, spec.kind
    generated = {a for s in RECORDS.values() for a in (s.store, s.emitter)}
    assert {a for a in declared if a.startswith("on_")} == {a for a in generated if a.startswith("on_")}


def test_the_ordered_kinds_share_one_emission_order() -> None:
    col = Collector()
    col.on_job_submitted(0.0, col.class_code("a"), col.tenant_code("t"), 0, 1, 1.0, 1.0)
    col.on_sample(0.0, 0, 1, 0, 0.0)  # not ordered: takes no place in the order
    col.on_job_started(0.0, 0, 0, 0, 1, 1, 0)
    col.on_component_failed(0.5, col.cause_code("gpu"), 0, 0, 1, False)
    col.on_job_finished(1.0, 0)
    seqs = {k: list(col.columns(k)["seq"]) for k, s in RECORDS.items() if s.ordered}
    assert seqs == {"job_submitted": [0], "job_started": [1], "job_finished": [3], "job_interrupted": [],
                    "component_failed": [2], "component_repaired": []}  # fmt: skip
    events = events_table(col)
    assert list(events.coded("kind").strings()) == ["job_submitted", "job_started", "component_failed",
                                                      "job_finished"]  # fmt: skip
    assert list(events["gpus"]) == [1, 1, 1, 1] and list(events["failure_id"]) == [-1, -1, 0, -1]


def test_tables_take_their_columns_from_the_declaration() -> None:
    col = Collector()
    emit(col, "job_interrupted", EXAMPLES["job_interrupted"])
    emit(col, "run_overhead", EXAMPLES["run_overhead"])
    it = interruptions_table(col)
    assert list(it) == ["time_s", "job_id", "failure_id", "lost_s", "restart_s", "requeued", "reason"]
    assert [it[n].dtype for n in list(it)[:-1]] == [np.float64, np.int64, np.int64, np.float64, np.float64, np.bool_]
    assert it.coded("reason").strings().tolist() == ["failure"]  # the reason's code, named
    assert list(overhead_table(col)) == ["job_id", "start_s", "end_s", "restart_s", "checkpoint_s", "lost_s"]
    emit(col, "component_failed", EXAMPLES["component_failed"])
    failed = record_table(col, "component_failed")
    assert failed.coded("cause").strings().tolist() == ["node"] and failed["failure"].tolist() == [0]


def test_an_unknown_kind_is_refused_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match=r"unknown record kind 'job_teleported'.*job_submitted"):
        list(Collector().records("job_teleported"))


def test_a_field_without_storage_type_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Bad\.size: declare its storage type"):

        @record("bad")
        @dataclass(frozen=True)
        class Bad:
            time: F64
            size: int
            kind: str = "bad"


def test_a_kind_declared_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="a 'kind' field with a default of its own"):

        @record("again")
        @dataclass(frozen=True)
        class Again:
            time: F64
            kind: str = "job_started"

    assert RECORDS["job_started"].type is rec.JobStarted


def test_storage_types_give_table_dtypes() -> None:
    dtypes = {alias: storage_of(alias).dtype for alias in (F64, I64, I32, I8, Flag)}
    assert list(dtypes.values()) == ["float64", "int64", "int64", "int64", "bool"]
    assert not storage_of(Row).stored


def storage_of(alias: object) -> rec.Storage:
    (storage,) = alias.__metadata__  # type: ignore[attr-defined]
    return storage
