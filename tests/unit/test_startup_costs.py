"""What start-up builds and reads: the topology without its fabric graph, a trace parsed once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.csv
import pytest

from dcsim.experiment.run import simulate
from dcsim.infra.topology import CROSS_RACK, SAME_NODE, SAME_RACK, build_topology
from dcsim.scenario.load import load_scenario
from dcsim.scenario.schema import Datacenter, Trace
from dcsim.workload import trace as trace_module

MIXED = {
    "sites": [
        {
            "name": "east",
            "rack_groups": [
                {"racks": 2, "nodes_per_rack": 3, "node": {"gpus": 4, "gpu_type": "A100"}},
                {"racks": 1, "nodes_per_rack": 1},
                {"racks": 3, "nodes_per_rack": 2, "node": {"gpus": 4, "gpu_type": "A100"}},
            ],
        },
        {"name": "west", "racks": 2, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
    ]
}


def test_topology_membership_is_built_without_the_fabric_graph_and_agrees_with_it() -> None:
    topo = build_topology(Datacenter.model_validate(MIXED))
    assert "graph" not in vars(topo)  # not built until asked for
    graph = topo.graph
    for n in range(topo.n_nodes):
        (leaf,) = (v for v in graph.neighbors(("node", n)) if v[0] == "leaf")
        assert leaf[1] == topo.node_rack[n]
        assert graph.nodes[("node", n)]["site"] == topo.site_names[topo.node_site[n]]
        assert graph.nodes[("node", n)]["gpus"] == topo.node_gpus[n]
        assert n in topo.rack_nodes[topo.node_rack[n]]
        assert n in topo.pools[topo.node_pool[n]].nodes
    assert topo.n_nodes == 2 * 3 + 1 + 3 * 2 + 2 * 2
    # Same site and GPU type: one pool across the two A100 groups, apart from the H100 rack between them.
    assert [(p.site, p.gpu_type, len(p.nodes), p.racks) for p in topo.pools] == [
        ("east", "A100", 12, (0, 1, 3, 4, 5)), ("east", "H100", 1, (2,)), ("west", "H100", 4, (6, 7)),
    ]  # fmt: skip
    assert topo.locality_hops == {SAME_NODE: 0, SAME_RACK: 2, CROSS_RACK: 4}


def write_trace(tmp_path: Path, rows: list[str], header: str = "id,t,g,d") -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


TRACE = Trace.model_validate({"path": "trace.csv", "columns": {"submit_time": "t", "gpus": "g", "duration": "d"}})


def careful_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trace: Trace = TRACE) -> trace_module.TraceTable:
    """The table of the text-only read (the Arrow read turned off)."""
    with monkeypatch.context() as m:
        m.setattr(trace_module, "_arrow_read", lambda data, wanted: None)
        trace_module.forget_trace()
        table = trace_module.read_trace(trace, str(tmp_path))
    trace_module.forget_trace()
    return table


@pytest.mark.parametrize(
    "cells",
    [
        ["0.1", "1", "3600"],
        [" 7.752458183288488", "2 ", "1157.846630669876"],
        ["1e3", "8.0", "2.5E+2"],
        ['"12"', "4", ".5"],
        ["123456789.123456789", "16", "0.30000000000000004"],
        ["+5", "1", "5."],
    ],
)
def test_numbers_read_by_the_csv_reader_equal_the_careful_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: list[str]
) -> None:
    write_trace(tmp_path, [f"a,{cells[0]},{cells[1]},{cells[2]}", "b,0,1,60"])
    trace_module.forget_trace()
    fast = trace_module.read_trace(TRACE, str(tmp_path))
    assert_same_trace(fast, careful_read(tmp_path, monkeypatch))


def assert_same_trace(a: trace_module.TraceTable, b: trace_module.TraceTable) -> None:
    """Every column of two trace tables equal, bit for bit (the names' order aside: codes follow them)."""
    for name in ("submit_time", "gpus", "duration", "estimate", "priority", "rows"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    for codes, names in (("job_class", "class_names"), ("tenant", "tenant_names")):
        x = [getattr(a, names)[c] for c in getattr(a, codes).tolist()]
        assert x == [getattr(b, names)[c] for c in getattr(b, codes).tolist()], codes
    assert (a.ids is None) == (b.ids is None) and (a.ids is None or a.ids.to_pylist() == b.ids.to_pylist())


def test_the_arrow_read_and_the_careful_read_give_the_same_text_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Classes, tenants and ids, out of order and with repeats, by both reads (and the Arrow read was taken)."""
    write_trace(tmp_path, ["j1,50,1,60,big,u2", "j2,10,2,60,small,u1", "j3,10,1,30,big,u1", "j4,0,4,9,tiny,u3"],
                header="id,t,g,d,c,u")  # fmt: skip
    columns = {"submit_time": "t", "gpus": "g", "duration": "d", "job_class": "c", "tenant": "u", "job_id": "id"}
    trace = Trace.model_validate({"path": "trace.csv", "columns": columns})
    trace_module.forget_trace()
    wanted = {k: v for k, v in trace.columns.model_dump().items() if v is not None}
    arrow = trace_module._arrow_read((tmp_path / "trace.csv").read_bytes(), wanted)
    assert arrow is not None and arrow["job_class"][1] == ["big", "small", "tiny"]
    fast = trace_module.read_trace(trace, str(tmp_path))
    assert_same_trace(fast, careful_read(tmp_path, monkeypatch, trace))
    assert fast.rows.tolist() == [3, 1, 2, 0]  # stably by submit time
    assert trace_module.trace_id_texts(fast.ids, fast.rows).to_pylist() == ["j4", "j2", "j3", "j1"]


def test_a_bad_value_is_named_as_before(tmp_path: Path) -> None:
    write_trace(tmp_path, ["a,0,1,60", "b,5,1,inf"])
    trace_module.forget_trace()
    with pytest.raises(Exception, match=r"line 3: column 'd' \(duration\) is 'inf'; it must be a number > 0"):
        trace_module.read_trace(TRACE, str(tmp_path))


def test_validate_and_run_parse_a_trace_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks, the offered load, the run and the manifest's hash share one parse of the file."""
    write_trace(tmp_path, [f"j{i},{i * 60},{1 + i % 4},{600 + i}" for i in range(50)])
    (tmp_path / "s.yaml").write_text(
        "name: t\ndatacenter: {sites: [{name: dc1, racks: 1, nodes_per_rack: 2, node: {gpus: 4}}]}\n"
        "workload: {trace: {path: trace.csv, columns: {submit_time: t, gpus: g, duration: d, job_id: id}}}\n"
    )
    parses = []
    read_csv, arrow_read_csv = pd.read_csv, pyarrow.csv.read_csv

    def counting(*args: object, **kwargs: object) -> pd.DataFrame:
        if kwargs.get("nrows") != 0:  # a header peek is not a parse
            parses.append(args[0])
        return read_csv(*args, **kwargs)  # type: ignore[call-overload]

    def arrow_counting(*args: object, **kwargs: object) -> object:
        parses.append(args[0])
        return arrow_read_csv(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pd, "read_csv", counting)
    monkeypatch.setattr(pyarrow.csv, "read_csv", arrow_counting)
    trace_module.forget_trace()
    result = simulate(load_scenario(str(tmp_path / "s.yaml")))
    assert len(parses) == 1
    assert result.summary["jobs"]["completed"] == 50
    assert result.jobs["trace_id"].tolist() == [f"j{i}" for i in range(50)]
    assert set(result.manifest()["data_files"]) == {"trace.csv"}


def test_a_header_with_spaces_around_its_names_reads_as_its_clean_twin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ["a,0,1,60", "b,5,2,30"]
    write_trace(tmp_path, rows)
    clean = careful_read(tmp_path, monkeypatch)
    write_trace(tmp_path, rows, header="id , t ,g ,d ")
    trace_module.forget_trace()
    assert_same_trace(trace_module.read_trace(TRACE, str(tmp_path)), clean)


def test_a_blank_class_or_tenant_is_the_trace_name_or_the_default_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_trace(tmp_path, ["a,0,1,60,,u1", "b,5,2,30,big,", "c,9,1,30,trace,u1"], header="id,t,g,d,c,u")
    columns = {"submit_time": "t", "gpus": "g", "duration": "d", "job_class": "c", "tenant": "u"}
    trace = Trace.model_validate({"path": "trace.csv", "columns": columns})
    for table in (trace_module.read_trace(trace, str(tmp_path)), careful_read(tmp_path, monkeypatch, trace)):
        assert [table.class_names[c] for c in table.job_class.tolist()] == ["trace", "big", "trace"]
        assert [table.tenant_names[c] for c in table.tenant.tolist()] == ["u1", "default", "u1"]
        trace_module.forget_trace()
