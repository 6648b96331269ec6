"""Bad input of every kind: exit status 2, one message naming the field or line, no traceback.

The rule: "A wrong scenario, CLI argument or trace file gets one message naming the
field or line and how to fix it, exit code 2, no traceback, and nothing half-written
in results/ (write to a temporary name, then rename)."

Most cases call ``dcsim.cli.main`` in-process (fast); a few go through a real
subprocess to prove that no traceback reaches the user's terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dcsim.cli import main
from dcsim.core.table import Table
from dcsim.experiment.results import write_results
from dcsim.policies import SCHEDULER

from conftest import ROOT, run_data, tiny_data

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["--set", "horizon=2d", "--set", "warmup=0"]
TINY_GPUS = 2 * 2 * 8  # tiny_data: 2 racks x 2 nodes x 8 GPUs


# --------------------------------------------------------------------------- helpers
def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``dcsim argv`` in-process; return (status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def problem_paths(err: str) -> list[str]:
    """The YAML paths of a ScenarioError message: lines ``  <path>: <message>``."""
    return re.findall(r"^  (\S+): ", err, flags=re.MULTILINE)


#: Python's and pydantic's wording, which a user cannot act on: never in a message.
PYTHON_WORDING = (
    "Traceback", "Input should be", "Extra inputs are not permitted", "unhashable type", "validation error for",
    "Field required", "object has no attribute", "NoneType", "Value error,", "[type=", "pydantic",
)  # fmt: skip


def assert_bad_input(code: int, err: str, command: str) -> None:
    """Exit 2, a single short ``dcsim <command>: error:`` message, no traceback and no Python wording."""
    assert code == 2, err
    assert err.startswith(f"dcsim {command}: error: "), err
    assert err.count(f"dcsim {command}: error:") == 1, err
    assert not [w for w in PYTHON_WORDING if w in err], err
    assert max(len(line) for line in err.splitlines()) <= 500, err


def trace_case(tmp_path: Path, csv_text: str | None) -> Path:
    """Copy the trace-replay spec next to a (broken) copy of its CSV; return the YAML path."""
    scenario = tmp_path / "trace_replay.yaml"
    shutil.copy(ROOT / "scenarios" / "trace_replay.yaml", scenario)
    if csv_text is not None:
        (tmp_path / "trace_replay.csv").write_text(csv_text, encoding="utf-8")
    return scenario


def with_job_ids(scenario: Path) -> Path:
    """The trace-replay scenario reading its CSV's job_id column too."""
    text = scenario.read_text(encoding="utf-8")
    assert "columns: {submit_time: arrival," in text
    scenario.write_text(
        text.replace("columns: {submit_time: arrival,", "columns: {job_id: job_id, submit_time: arrival,")
    )
    return scenario


def csv_lines() -> list[str]:
    return (ROOT / "scenarios" / "trace_replay.csv").read_text(encoding="utf-8").splitlines()


def nothing_but(directory: Path, *names: str) -> None:
    """``directory`` holds exactly ``names`` (no results, no temporary leftovers)."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


# --------------------------------------------------------------------------- scenario files
def _job(data: dict[str, Any]) -> dict[str, Any]:
    return data["workload"]["jobs"][0]


def _service(horizon: str | None = "1d", **fields: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that adds a service (one replica of 8 GPUs, exponential 100 ms requests) with ``fields``."""

    def mutate(data: dict[str, Any]) -> None:
        svc = {"name": "chat", "gpus_per_replica": 8, "replicas": {"min": 1, "max": 2},
               "requests": {"arrival": {"process": "poisson", "rate": "1/s"}},
               "service_model": {"time": {"dist": "exponential", "mean": "100ms"}}}  # fmt: skip
        svc.update(fields)
        data["services"] = [svc]
        if horizon is None:
            data.pop("horizon", None)
        else:
            data["horizon"] = horizon

    return mutate


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path of the raw data (list steps by index)."""

    def mutate(data: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = data
        for step in head:
            node = node[int(step)] if isinstance(node, list) else node[step]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _rename_key(path: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = data
        for step in head:
            node = node[int(step)] if isinstance(node, list) else node[step]
        node[new] = node.pop(last)

    return mutate


def _drop_count(data: dict[str, Any]) -> None:
    del _job(data)["count"]
    data.pop("horizon", None)


# (id, mutation, the path the message must name, words the message must contain)
SCENARIO_CASES = [
    (
        "unknown_key",
        _rename_key("datacenter.sites.0.nodes_per_rack", "nodes_per_rak"),
        "datacenter.sites.0.nodes_per_rak",
        ["unknown key", "dcsim schema"],
    ),
    (
        "typo_in_nested_distribution",
        _set("workload.jobs.0.duration", {"dist": "exponential", "meen": "1h"}),
        "workload.jobs.0.duration.meen",
        ["unknown key"],
    ),
    (
        "negative_rate",
        _set("workload.jobs.0.arrival", {"process": "poisson", "rate": "-3/h"}),
        "workload.jobs.0.arrival.rate",
        ["must be > 0, got '-3/h'"],
    ),
    (
        "bad_unit",
        _set("workload.jobs.0.duration", "2 parsecs"),
        "workload.jobs.0.duration",
        ["parsecs", "h", "d"],
    ),
    (
        "bad_unit_in_horizon",
        _set("horizon", "2 parsecs"),
        "horizon",
        ["parsecs"],
    ),
    (
        "bad_unit_in_rate",
        _set("workload.jobs.0.arrival", {"process": "poisson", "rate": "10/parsec"}),
        "workload.jobs.0.arrival.rate",
        ["10/parsec", "10/h"],
    ),
    (
        "bad_unit_in_power",
        _set("datacenter.sites.0.node", {"gpus": 8, "gpu_power": "700 horsepower"}),
        "datacenter.sites.0.node.gpu_power",
        ["horsepower", "kw"],
    ),
    (
        "job_bigger_than_cluster",
        _set("workload.jobs.0.gpus", 64),
        "workload.jobs.0.gpus",
        ["64", str(TINY_GPUS)],
    ),
    (
        "gpu_type_not_in_datacenter",
        _set("workload.jobs.0.gpu_types", ["B200"]),
        "workload.jobs.0.gpu_types",
        ["B200", "H100"],
    ),
    (
        "unknown_policy_lists_valid_names",
        _set("policies", {"scheduler": "fifoo"}),
        "policies.scheduler",
        ["fifoo", "fifo", "sjf", "priority"],
    ),
    (
        "bad_policy_param_value",
        _set("policies", {"scheduler": {"name": "fifo", "params": {"backfill": "maybe"}}}),
        "policies.scheduler",
        ["params.backfill"],
    ),
    (
        "unknown_policy_param",
        _set("policies", {"scheduler": {"name": "fifo", "params": {"bakfill": True}}}),
        "policies.scheduler",
        ["params.bakfill"],
    ),
    (
        "negative_seed",
        _set("seed", -1),
        "seed",
        ["must be >= 0, got -1"],
    ),
    (
        "no_count_and_no_horizon",
        _drop_count,
        "workload.jobs.0.count",
        ["count", "horizon"],
    ),
    (
        "site_costs_unknown_field",
        _set("datacenter.sites.0.costs", {"electricty_usd_per_kwh": 0.1}),
        "datacenter.sites.0.costs.electricty_usd_per_kwh",
        ["unknown key", "did you mean `electricity_usd_per_kwh`?"],
    ),
    (
        "site_costs_negative_price",
        _set("datacenter.sites.0.costs", {"gpu_hour_usd": {"H100": -2.5}}),
        "datacenter.sites.0.costs.gpu_hour_usd.H100",
        ["must be >= 0, got -2.5"],
    ),
    (
        "site_costs_negative_electricity_price",
        _set("datacenter.sites.0.costs", {"electricity_usd_per_kwh": -0.1}),
        "datacenter.sites.0.costs.electricity_usd_per_kwh",
        ["must be >= 0, got -0.1"],
    ),
    (
        "site_repair_with_a_scenario_wide_field",
        _set("datacenter.sites.0.repair", {"technicians": 2, "policy": "fifo"}),
        "datacenter.sites.0.repair.policy",
        ["takes only technicians and working_hours", "set `repair.policy`"],
    ),
    (
        "checkpoint_size_and_write",
        _set("workload.jobs.0.checkpoint", {"interval": "1h", "size": "2TB", "write": "1m"}),
        "workload.jobs.0.checkpoint",
        ["give either `write`", "or `size`", "not both", "drop `write`"],
    ),
    (
        "checkpoint_size_without_storage",
        _set("workload.jobs.0.checkpoint", {"interval": "1h", "size": "2TB"}),
        "workload.jobs.0.checkpoint.size",
        [
            "checkpoints of 2TB",
            "site 'dc1' has no `storage`",
            "datacenter.sites.0.storage: {bandwidth: ...}",
            "or a fixed `write`",
        ],
    ),
    (
        "checkpoint_size_zero",
        _set("workload.jobs.0.checkpoint", {"interval": "1h", "size": 0}),
        "workload.jobs.0.checkpoint",
        ["`size` must be > 0 bytes"],
    ),
    (
        "storage_bandwidth_zero",
        _set("datacenter.sites.0.storage", {"bandwidth": 0}),
        "datacenter.sites.0.storage.bandwidth",
        ["must be > 0, got 0"],
    ),
    (
        "storage_bandwidth_as_a_size",
        _set("datacenter.sites.0.storage", {"bandwidth": "200GB"}),
        "datacenter.sites.0.storage.bandwidth",
        ["unknown unit 'GB' in '200GB'", "gb/s"],
    ),
    (
        "storage_rack_bandwidth_without_bandwidth",
        _set("datacenter.sites.0.storage", {"rack_bandwidth": "20GB/s"}),
        "datacenter.sites.0.storage.bandwidth",
        ["required field is missing"],
    ),
    ("service_unknown_balancer", _service(load_balancer="fastest"), "services.0.load_balancer",
     ["unknown load_balancer 'fastest'", "power_of_two"]),
    ("service_balancer_bad_param", _service(load_balancer={"policy": "power_of_two", "d": 0}),
     "services.0.load_balancer", ["power_of_two", "params.d", ">= 1"]),
    ("service_hpa_without_target", _service(autoscaler={"policy": "hpa"}), "services.0.autoscaler",
     ["hpa", "params.target", "required"]),
    ("service_scheduled_bad_time", _service(autoscaler={"policy": "scheduled", "table": {"25:00": 2}}),
     "services.0.autoscaler", ["25:00"]),
    ("service_time_and_tokens", _service(service_model={"time": "1s", "decode": {"per_token": "10ms"}}),
     "services.0.service_model", ["either `time`", "not both"]),
    ("service_tokens_without_output", _service(service_model={"decode": {"per_token": "10ms"}}),
     "services.0", ["needs `requests.output_tokens`"]),
    ("service_replicas_out_of_order", _service(replicas={"min": 3, "max": 2}), "services.0.replicas",
     ["`min` (3) is above `max` (2)"]),
    ("service_replica_larger_than_the_cluster", _service(gpus_per_replica=64), "services.0.gpus_per_replica",
     ["64 GPUs > the largest pool", "lower it or add racks"]),
    ("service_model_load_without_storage", _service(model={"size": "140GB"}), "services.0.model.size",
     ["loads 140GB from storage", "no `storage` bandwidth", "datacenter.sites.0.storage", "`cold_start`"]),
    ("service_sample_beside_training", _service(sample=0.5, replicas={"min": 2, "max": 4}), "services.0.sample",
     ["samples 0.5", "training jobs", "drop `sample`"]),
    ("service_token_dist_without_location",
     _service(service_model={"decode": {"per_token": "10ms"}},
              requests={"arrival": {"process": "poisson", "rate": "1/s"},
                        "output_tokens": {"dist": "lognormal", "sigma": 0.5}}),
     "services.0.requests.output_tokens", ["1 problem in the scenario", "give exactly one of `median` or `mean`"]),
    ("service_time_dist_unknown", _service(service_model={"time": {"dist": "gamma"}}), "services.0.service_model.time",
     ["1 problem in the scenario", "'gamma' is not one of", "'exponential'"]),
    ("service_without_horizon", _service(horizon=None), "horizon", ["needs a `horizon`", "horizon: 1d"]),
    ("service_sample_not_whole", _service(sample=0.3, replicas={"min": 1, "max": 10}), "services.0",
     ["`sample` 0.3 of replicas.min (1) is 0.3 replicas", "whole numbers"]),
    ("service_hpa_utilization_from_zero",
     _service(replicas={"min": 0, "max": 4}, autoscaler={"policy": "hpa", "target": 0.7}), "services.0",
     ["never scales up from zero", "metric: concurrency"]),
    ("service_request_trace_missing", _service(requests={"arrival": {"process": "trace", "path": "none.csv"}}),
     "services.0.requests.arrival", ["none.csv: file not found"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [pytest.param(m, p, w, id=i) for i, m, p, w in SCENARIO_CASES],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_scenario_names_its_path_and_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Callable[[dict[str, Any]], None],
    path: str,
    words: list[str],
    command: str,
) -> None:
    data = tiny_data()
    mutate(data)
    scenario = write_yaml(tmp_path / "s.yaml", data)
    extra = ["--out", str(tmp_path / "results" / "run")] if command == "run" else []
    code, _, err = cli(capsys, command, scenario, *extra)
    assert_bad_input(code, err, command)
    assert path in problem_paths(err), err
    for word in words:
        assert word in err, (word, err)
    assert str(scenario) in err  # the message names the file too
    nothing_but(tmp_path, "s.yaml")  # run wrote no results/ at all


def test_gpu_type_typo_is_reported_once_not_as_a_size_problem_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong gpu_types is one problem: the size check must not add '1 GPUs > ... (no pool)'."""
    data = tiny_data()
    _job(data)["gpu_types"] = ["B200"]
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", data))
    assert_bad_input(code, err, "validate")
    assert problem_paths(err) == ["workload.jobs.0.gpu_types"], err


def test_a_site_price_list_without_a_price_for_its_gpus_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Site dc1's own price list has no H100 price and no '*', and neither has the scenario-wide one."""
    data = tiny_data(costs={"gpu_hour_usd": {"A100": 1.0}})
    data["datacenter"]["sites"][0]["costs"] = {"gpu_hour_usd": {"B200": 3.0}}
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", data))
    assert_bad_input(code, err, "validate")
    assert problem_paths(err) == ["datacenter.sites.0.costs.gpu_hour_usd"], err
    assert "no price for GPU type H100 at site 'dc1'" in err


def test_a_site_repair_block_without_failures_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_data()
    data["datacenter"]["sites"][0]["repair"] = {"technicians": 2}
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", data))
    assert_bad_input(code, err, "validate")
    assert problem_paths(err) == ["datacenter.sites.0.repair"], err
    assert "needs a `failures` block" in err


def test_warmup_not_shorter_than_horizon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_data(horizon="1d", warmup="2d")
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", data))
    assert_bad_input(code, err, "validate")
    assert "warmup" in err and "horizon" in err
    assert "2.00 d" in err and "24.00 h" in err  # warmup 2 d, horizon 1 d


def test_warmup_equal_to_horizon_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", tiny_data(horizon="1d", warmup="24h")))
    assert_bad_input(code, err, "validate")
    assert "warmup" in err


def test_malformed_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nseed: 1\ndatacenter: {sites: [\n  - name: a\n workload:\n", encoding="utf-8")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "malformed YAML" in err
    assert "line 4" in err


def test_tab_indented_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nseed: 1\n\tdatacenter: {}\n", encoding="utf-8")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "line 3" in err


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "", "42\n"], ids=["list", "str", "empty", "int"])
def test_file_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(text, encoding="utf-8")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "mapping" in err


def test_missing_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = cli(capsys, "run", missing, "--out", tmp_path / "out")
    assert_bad_input(code, err, "run")
    assert "not found" in err and str(missing) in err
    nothing_but(tmp_path)


def test_directory_instead_of_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "validate", tmp_path)
    assert_bad_input(code, err, "validate")
    assert "directory" in err


def test_binary_file_instead_of_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_bytes(b"\xff\xfe\x00\x81binary")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "not a text (UTF-8) file" in err


def test_validate_reports_every_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three independent mistakes give three paths in one message."""
    data = tiny_data(seed=-1, policies={"scheduler": "fifoo"})
    data["datacenter"]["sites"][0]["nodes_per_rak"] = data["datacenter"]["sites"][0].pop("nodes_per_rack")
    code, _, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", data))
    assert_bad_input(code, err, "validate")
    assert "3 problems" in err
    assert set(problem_paths(err)) == {"seed", "datacenter.sites.0.nodes_per_rak", "policies.scheduler"}


def test_valid_file_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: the unbroken tiny scenario passes, so the failures above are the mutations'."""
    code, out, err = cli(capsys, "validate", write_yaml(tmp_path / "s.yaml", tiny_data()))
    assert (code, err) == (0, "")
    assert "valid" in out


# --------------------------------------------------------------------------- trace files
def test_trace_row_with_non_numeric_gpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = csv_lines()
    job_id, arrival, _, duration = lines[3].split(",")  # line 4 of the file (header = line 1)
    lines[3] = f"{job_id},{arrival},abc,{duration}"
    scenario = trace_case(tmp_path, "\n".join(lines) + "\n")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv line 4" in err
    assert "'gpus'" in err and "'abc'" in err
    assert "workload.trace" in problem_paths(err)


def test_trace_row_with_negative_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = csv_lines()
    job_id, arrival, gpus, _ = lines[5].split(",")  # line 6
    lines[5] = f"{job_id},{arrival},{gpus},-5"
    scenario = trace_case(tmp_path, "\n".join(lines) + "\n")
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "out")
    assert_bad_input(code, err, "run")
    assert "trace_replay.csv line 6" in err
    assert "'duration'" in err and "'-5'" in err and "> 0" in err
    nothing_but(tmp_path, "trace_replay.yaml", "trace_replay.csv")


def test_trace_with_a_job_id_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Line 5 repeats line 3's job id: refused naming both lines (results name jobs by their id)."""
    lines = csv_lines()
    first_id = lines[2].split(",")[0]
    lines[4] = ",".join([first_id, *lines[4].split(",")[1:]])
    scenario = with_job_ids(trace_case(tmp_path, "\n".join(lines) + "\n"))
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv lines 3 and 5" in err and f"{first_id!r} twice" in err


def test_trace_with_an_empty_job_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = csv_lines()
    lines[3] = ",".join(["", *lines[3].split(",")[1:]])
    scenario = with_job_ids(trace_case(tmp_path, "\n".join(lines) + "\n"))
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "out")
    assert_bad_input(code, err, "run")
    assert "trace_replay.csv line 4" in err and "is empty" in err
    nothing_but(tmp_path, "trace_replay.yaml", "trace_replay.csv")


def test_trace_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [",".join(line.split(",")[:3]) for line in csv_lines()]  # drop `duration`
    scenario = trace_case(tmp_path, "\n".join(lines) + "\n")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv" in err and "'duration'" in err
    assert "workload.trace.columns" in err  # how to fix it
    assert "job_id, arrival, gpus" in err  # what the file has


def test_trace_row_with_too_many_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = csv_lines()
    lines[2] += ",7,8"  # line 3
    scenario = trace_case(tmp_path, "\n".join(lines) + "\n")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv" in err and "line 3" in err


def test_trace_job_bigger_than_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = csv_lines()
    job_id, arrival, _, duration = lines[2].split(",")  # line 3
    lines[2] = f"{job_id},{arrival},999,{duration}"
    scenario = trace_case(tmp_path, "\n".join(lines) + "\n")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv line 3" in err and "999" in err and str(2 * 8 * 8) in err  # 2 racks x 8 nodes x 8 GPUs


def test_missing_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = trace_case(tmp_path, None)
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "workload.trace.path" in err and "trace_replay.csv" in err and "not found" in err


def test_empty_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A zero-byte CSV is a bad trace file, not an internal error."""
    scenario = trace_case(tmp_path, "")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv" in err


def test_trace_with_header_and_no_rows_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trace with no jobs: nothing would run (and `run` must not wait forever for it to drain)."""
    scenario = trace_case(tmp_path, "job_id,arrival,gpus,duration\n")
    code, _, err = cli(capsys, "validate", scenario)
    assert_bad_input(code, err, "validate")
    assert "trace_replay.csv" in err


def test_run_of_trace_with_no_rows_ends(tmp_path: Path) -> None:
    """`dcsim run` on a header-only trace must end (exit 2, or 0 with zero jobs), not hang.

    Guarded by a timeout and an address-space limit: the hang grows memory without bound
    (about 100 MB/s). A run with nothing to do takes well under a second.
    """
    import resource

    scenario = trace_case(tmp_path, "job_id,arrival,gpus,duration\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dcsim.cli", "run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"],
            capture_output=True, text=True, timeout=10, preexec_fn=limit,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("dcsim run on a trace with no rows did not end within 10 s")
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- CLI arguments
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--set", "horizon"], ["--set 'horizon'", "path=value"]),
        (["--set", "=2d"], ["path=value"]),
        (["--set", "workload.jobs.5.gpus=2"], ["workload.jobs.5", "out of range", "the list has 1 entry"]),
        (["--set", "workload.jobs.first.gpus=2"], ["workload.jobs.first", "number"]),
        (["--set", "name.x=1"], ["name", "not a mapping"]),
        (["--set", "horizon=[1"], ["not valid YAML"]),
    ],
    ids=["no_equals", "empty_path", "index_out_of_range", "index_not_a_number", "into_a_scalar", "bad_yaml_value"],
)
@pytest.mark.parametrize("command", ["validate", "run", "compare"])
def test_bad_set_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str], command: str
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    extra = {"run": ["--out", tmp_path / "out"], "compare": ["--out", tmp_path / "c.csv"], "validate": []}[command]
    code, _, err = cli(capsys, command, scenario, *argv, *extra)
    assert_bad_input(code, err, command)
    for word in words:
        assert word in err, (word, err)
    nothing_but(tmp_path, "s.yaml")


def test_set_that_produces_an_invalid_scenario_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    code, _, err = cli(capsys, "validate", scenario, "--set", "workload.jobs.0.gpus=1000")
    assert_bad_input(code, err, "validate")
    assert problem_paths(err) == ["workload.jobs.0.gpus"]
    assert "1000" in err and str(TINY_GPUS) in err


@pytest.mark.parametrize("seed", ["abc", "1.5", ""])
def test_bad_seed_is_an_argparse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    with pytest.raises(SystemExit) as exc:
        main(["run", str(scenario), "--seed", seed, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --seed: {seed!r} is not a whole number" in err
    assert "Traceback" not in err
    nothing_but(tmp_path, "s.yaml")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--seed", "-1"], "argument --seed: -1 is out of range; give a seed from 0 to"),
        (["compare", "--seeds", "0"], "argument --seeds: 0 is out of range; give a number of seeds from 1 to"),
    ],
)
def test_out_of_range_seeds_are_argparse_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    with pytest.raises(SystemExit) as exc:
        main([argv[0], str(scenario), *argv[1:], "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    nothing_but(tmp_path, "s.yaml")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--policy", "sched=fifo,sjf"], ["'sched'", "scheduler, placement"]),
        (["--policy", "scheduler"], ["scheduler=fifo,sjf"]),
        (["--policy", "scheduler=fifo,nope"], ["policies.scheduler", "'nope'", ", ".join(SCHEDULER.names())]),
        (["--vary", "horizon=abc,2d"], ["horizon", "'abc'"]),
        (["--seed-list", "a,b"], ["--seed-list 'a,b'", "whole number"]),
    ],
    ids=["unknown_kind", "no_values", "unknown_policy", "bad_vary_value", "bad_seed_list"],
)
def test_bad_compare_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    code, _, err = cli(capsys, "compare", scenario, *argv, "--out", tmp_path / "c.csv")
    assert_bad_input(code, err, "compare")
    for word in words:
        assert word in err, (word, err)
    assert "ran " not in err  # every variant is checked before any runs
    nothing_but(tmp_path, "s.yaml")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["run"], ["run", "x.yaml", "--bogus"]])
def test_bad_command_line_is_an_argparse_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: dcsim" in err and "error:" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- --out
def test_out_that_is_an_existing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out notes.txt` must not silently turn the user's file into a results directory."""
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    user_file = tmp_path / "notes.txt"
    user_file.write_text("keep me", encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario, "--out", user_file, "--quiet")
    assert_bad_input(code, err, "run")
    assert "notes.txt" in err
    assert user_file.read_text(encoding="utf-8") == "keep me"
    nothing_but(tmp_path, "s.yaml", "notes.txt")


def test_out_under_an_existing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "notes.txt" / "run1", "--quiet")
    assert_bad_input(code, err, "run")
    assert "notes.txt" in err
    nothing_but(tmp_path, "s.yaml", "notes.txt")


def test_compare_out_that_is_a_directory_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    (tmp_path / "cmp").mkdir()
    code, _, err = cli(capsys, "compare", scenario, "--seeds", "1", "--out", tmp_path / "cmp")
    assert_bad_input(code, err, "compare")
    assert "cmp" in err
    nothing_but(tmp_path, "s.yaml", "cmp")  # no cmp.tmp-<pid> left behind
    assert list((tmp_path / "cmp").iterdir()) == []


# --------------------------------------------------------------------------- no half-written results
def test_bad_scenario_creates_no_results_dir_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --out, a failed run leaves no results/ in the working directory."""
    monkeypatch.chdir(tmp_path)
    data = tiny_data()
    _job(data)["gpus"] = 64
    write_yaml(tmp_path / "s.yaml", data)
    code, _, err = cli(capsys, "run", "s.yaml")
    assert_bad_input(code, err, "run")
    nothing_but(tmp_path, "s.yaml")


def test_bad_scenario_creates_no_parent_of_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_data()
    _job(data)["duration"] = "2 parsecs"
    scenario = write_yaml(tmp_path / "s.yaml", data)
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "results" / "deep" / "run1")
    assert_bad_input(code, err, "run")
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def tiny_result():
    return run_data(tiny_data())


def _fail(*args: Any, **kwargs: Any) -> None:
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("where", ["parquet", "plots", "csv"])
def test_crash_while_writing_leaves_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_result: Any, where: str
) -> None:
    if where == "parquet":
        monkeypatch.setattr(Table, "write_parquet", _fail)
    elif where == "csv":
        monkeypatch.setattr(pd.DataFrame, "to_csv", _fail)
    else:
        monkeypatch.setattr("dcsim.report.plots.plot_run", _fail)
    out = tmp_path / "results" / "run1"
    with pytest.raises(OSError, match="simulated"):
        write_results(tiny_result, str(out), csv=True, plots=True)
    assert not out.exists()
    nothing_but(tmp_path)  # no .run1.tmp-<pid> left behind, nor the results/ made for it


def test_crash_while_writing_keeps_the_previous_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_result: Any
) -> None:
    out = tmp_path / "run1"
    write_results(tiny_result, str(out))  # an earlier run
    previous = (out / "manifest.json").read_text(encoding="utf-8")
    monkeypatch.setattr("dcsim.report.plots.plot_run", _fail)
    with pytest.raises(OSError, match="simulated"):
        write_results(tiny_result, str(out), plots=True)
    assert (out / "manifest.json").read_text(encoding="utf-8") == previous
    nothing_but(out, "summary.json", "manifest.json", "jobs.parquet", "timeseries.parquet")
    nothing_but(tmp_path, "run1")


def test_success_replaces_an_existing_dir_whole(tmp_path: Path, tiny_result: Any) -> None:
    out = tmp_path / "run1"
    write_results(tiny_result, str(out), csv=True)  # an earlier run, with CSVs
    (out / "summary.json").write_text("old", encoding="utf-8")
    assert write_results(tiny_result, str(out)) == os.path.normpath(out)
    nothing_but(out, "summary.json", "manifest.json", "jobs.parquet", "timeseries.parquet")  # CSVs gone
    assert (out / "summary.json").read_text(encoding="utf-8") != "old"
    nothing_but(tmp_path, "run1")  # no run1.old-<pid> left behind


def test_interrupted_run_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("dcsim.experiment.run.simulate", interrupt)
    scenario = write_yaml(tmp_path / "s.yaml", tiny_data())
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "out")
    assert code == 130
    assert "no results were written" in err and "Traceback" not in err
    nothing_but(tmp_path, "s.yaml")


# --------------------------------------------------------------------------- through a real process
def dcsim_process(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcsim.cli", *map(str, argv)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_subprocess_malformed_yaml(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("name: [x\n", encoding="utf-8")
    proc = dcsim_process("run", "s.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "malformed YAML" in proc.stderr and "line 2" in proc.stderr
    nothing_but(tmp_path, "s.yaml")


def test_subprocess_bad_trace_row(tmp_path: Path) -> None:
    lines = csv_lines()
    job_id, arrival, _, duration = lines[9].split(",")  # line 10
    lines[9] = f"{job_id},{arrival},abc,{duration}"
    trace_case(tmp_path, "\n".join(lines) + "\n")
    proc = dcsim_process("run", "trace_replay.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "trace_replay.csv line 10" in proc.stderr and "'gpus'" in proc.stderr
    nothing_but(tmp_path, "trace_replay.yaml", "trace_replay.csv")


def test_subprocess_missing_scenario_file(tmp_path: Path) -> None:
    proc = dcsim_process("validate", "missing.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "missing.yaml" in proc.stderr and "not found" in proc.stderr


def test_subprocess_bad_set_and_bad_seed(tmp_path: Path) -> None:
    proc = dcsim_process("run", QUICKSTART, *SHORT, "--set", "workload.jobs.7.gpus=2", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "workload.jobs.7" in proc.stderr
    proc = dcsim_process("run", QUICKSTART, "--seed", "abc", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--seed" in proc.stderr
    nothing_but(tmp_path)


def test_subprocess_empty_trace_file(tmp_path: Path) -> None:
    trace_case(tmp_path, "")
    proc = dcsim_process("validate", "trace_replay.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- messages stay short and plain
@pytest.mark.parametrize(
    ("name", "edit", "path", "words"),
    [
        ("text_for_a_number", ("workload.jobs.0.duration", {"dist": "lognormal", "median": "2h", "sigma": "wide"}),
         "workload.jobs.0.duration.sigma", "expected a number, got 'wide'"),
        ("list_for_a_mapping", ("datacenter.sites.0.node", [8]), "datacenter.sites.0.node",
         "expected a mapping (key: value, ...), got a list of 1 item"),
        ("text_for_whole_number", ("datacenter.sites.0.racks", "two"), "datacenter.sites.0.racks",
         "expected a whole number, got 'two'"),
        ("fraction_for_whole_number", ("datacenter.sites.0.racks", 1.5), "datacenter.sites.0.racks",
         "expected a whole number, got 1.5"),
        ("text_for_a_flag", ("policies", {"scheduler": {"name": "fifo", "params": {"backfill": "maybe"}}}),
         "policies.scheduler", "params.backfill: expected true or false, got 'maybe'"),
        ("unknown_param", ("policies", {"scheduler": {"name": "fifo", "params": {"bakfill": True}}}),
         "policies.scheduler", "params.bakfill: unknown parameter"),
        ("mapping_in_a_list_of_names", ("workload.jobs.0.gpu_types", [{"H100": 1}]), "workload.jobs.0.gpu_types.0",
         "expected text, got a mapping with keys H100"),
        ("spread_takes_no_rack_count", ("policies", {"placement": {"name": "spread", "params": {"racks": 3}}}),
         "policies.placement", "params.racks: unknown parameter"),
        ("network_aware_prefer", ("policies", {"placement": {"name": "network_aware", "params": {"prefer": "near"}}}),
         "policies.placement", "params.prefer: 'near' is not one of 'pool_order' or 'fast'"),
        ("lp_network_weight", ("policies", {"scheduler": {"name": "lp", "params": {"network_weight": -1}}}),
         "policies.scheduler", "params.network_weight: must be >= 0, got -1"),
    ],
)  # fmt: skip
def test_messages_are_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, edit: tuple[str, Any], path: str, words: str
) -> None:
    data = tiny_data()
    node: Any = data
    *parents, last = edit[0].split(".")
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    node[last] = edit[1]
    code, _, err = cli(capsys, "validate", str(write_yaml(tmp_path / "s.yaml", data)))
    assert_bad_input(code, err, "validate")
    assert f"  {path}: " in err and words in err, err


def test_a_huge_value_is_quoted_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 100,000-character value in a number field, and as a policy name: quoted in a few dozen characters."""
    data = tiny_data(policies={"placement": "x" * 100_000})
    data["workload"]["jobs"][0]["duration"] = {"dist": "exponential", "mean": "9" * 100_000 + "h"}
    data["workload"]["jobs"][0]["gpu_types"] = ["y" * 100_000]
    code, _, err = cli(capsys, "validate", str(write_yaml(tmp_path / "s.yaml", data)))
    assert_bad_input(code, err, "validate")
    assert len(err) < 2_000 and "..." in err
    assert {"policies.placement", "workload.jobs.0.duration.mean"} <= set(problem_paths(err))


def test_thousands_of_problems_are_counted_not_all_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """20,000 sites with a misspelt key each: a clear answer within seconds, the first problems and a count."""
    import time

    data = tiny_data()
    data["datacenter"]["sites"] = [
        {"name": f"s{i}", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}, "rackz": 1} for i in range(20_000)
    ]
    scenario = write_yaml(tmp_path / "s.yaml", data)
    start = time.perf_counter()
    code, _, err = cli(capsys, "validate", str(scenario))
    assert time.perf_counter() - start < 60  # seconds on a loaded machine; about 3 s on an idle one
    assert_bad_input(code, err, "validate")
    lines = err.splitlines()
    assert "20,000 problems in the scenario" in lines[0]
    assert lines[1].startswith("  datacenter.sites.0.rackz: unknown key; did you mean `racks`?")
    assert lines[-1] == "  ... and 19,975 more (fix these first, then validate again)" and len(lines) == 27


# --------------------------------------------------------------------------- names never steer where results go
@pytest.mark.parametrize(
    "name", ["..", "/etc", "a/../../b", "../escape", "x" * 300, "sub/dir", "."], ids=lambda n: n[:12]
)
def test_scenario_name_cannot_steer_the_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Whatever the scenario's name, its run lands in one folder directly under ./results."""
    study = tmp_path / "study"
    study.mkdir()
    monkeypatch.chdir(study)
    write_yaml(study / "s.yaml", tiny_data(name=name))
    code, _, err = cli(capsys, "run", "s.yaml", "--quiet")
    assert code == 0, err
    nothing_but(tmp_path, "study")  # nothing beside the study folder
    nothing_but(study, "s.yaml", "results")
    (folder,) = (study / "results").iterdir()
    assert folder.is_dir() and len(folder.name) <= 80 and not folder.name.startswith(".")
    assert [p.name for p in folder.iterdir()] == ["seed1"]
    assert json.loads((folder / "seed1" / "summary.json").read_text())["run"]["scenario"] == name


def test_two_names_that_clean_up_alike_keep_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcsim.core.files import folder_name

    assert folder_name("a/b") != folder_name("a_b") and folder_name("a_b") == "a_b"
    assert folder_name("x" * 300) != folder_name("x" * 299)


def test_out_with_a_name_too_long_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_yaml(tmp_path / "s.yaml", tiny_data())
    ran: list[bool] = []
    monkeypatch.setattr("dcsim.experiment.run.simulate", lambda *a, **k: ran.append(True))
    for command in (["run"], ["compare", "--seeds", "1"], ["sweep", "--replications", "1"]):
        code, _, err = cli(capsys, *command, "s.yaml", "--out", str(Path("results") / ("n" * 300)))
        assert_bad_input(code, err, command[0])
        assert "--out" in err and "300 characters long" in err and len(err) < 400
    assert ran == []
    nothing_but(tmp_path, "s.yaml")


def test_failed_write_leaves_no_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose writing fails removes the results/<scenario>/ folders it made for it."""
    monkeypatch.chdir(tmp_path)
    write_yaml(tmp_path / "s.yaml", tiny_data())
    monkeypatch.setattr(Table, "write_parquet", _fail)
    with pytest.raises(OSError, match="simulated"):
        cli(capsys, "run", "s.yaml", "--quiet")
    nothing_but(tmp_path, "s.yaml")


def test_failed_atomic_write_leaves_no_folder(tmp_path: Path) -> None:
    from dcsim.core.files import write_atomically

    with pytest.raises(OSError, match="simulated"):
        write_atomically(str(tmp_path / "a" / "b" / "t.csv"), _fail)
    nothing_but(tmp_path)


def test_trace_block_with_other_errors_still_reports_its_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem at once: a misspelt key and a bad unit in the trace block, and its file is missing."""
    data = tiny_data()
    data["workload"] = {"trace": {"path": "nowhere.csv", "time_unit": "fortnights", "colums": {}}}
    data["failures"] = {"node": {"mtbf": "100h"}, "trace": {"path": "no_failures.csv", "mode": "sometimes"}}
    code, _, err = cli(capsys, "validate", str(write_yaml(tmp_path / "s.yaml", data)))
    assert_bad_input(code, err, "validate")
    paths = problem_paths(err)
    assert {"workload.trace.colums", "workload.trace.time_unit", "workload.trace.path"} <= set(paths)
    assert {"failures.trace.mode", "failures.trace.path"} <= set(paths)
    assert "nowhere.csv: file not found" in err and "no_failures.csv: file not found" in err
    assert paths.count("workload.trace.path") == 1


@pytest.mark.parametrize("command", ["compare", "sweep"])
@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ("cost.by_site.nowhere.total_usd", "the scenario has no site 'nowhere' (sites: dc1)"),
        ("utilization.by_gpu_type.B200.gpu_allocated", "the scenario has no GPU type 'B200' (GPU types: H100)"),
        ("faults.repair_crew_load_by_site.dc2", "the scenario has no site 'dc2' (sites: dc1)"),
    ],
)
def test_a_metric_of_a_site_or_gpu_type_the_scenario_lacks_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, metric: str, words: str
) -> None:
    write_yaml(tmp_path / "s.yaml", tiny_data())
    extra = ["--policy", "scheduler=fifo", "--seeds", "1"] if command == "compare" else ["--grid", "seed=1,2"]
    code, _, err = cli(capsys, command, tmp_path / "s.yaml", *extra, "--metric", metric, "--out", tmp_path / "o")
    assert code == 2 and words in err and "Traceback" not in err
    nothing_but(tmp_path, "s.yaml")
