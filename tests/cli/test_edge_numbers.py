"""Numbers at the edges, raw YAML PyYAML reads in its own ways, and runs too large to simulate.

Each case gets exit 2 and one short message naming the field or argument, or runs
correctly; nothing is written on exit 2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main
from dcsim.core.units import format_duration

from conftest import ROOT, run_data, tiny_data


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    before = sorted(os.listdir("."))
    code, err = _cli(argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err and "Error:" not in err, err
    assert all(len(line) <= 400 for line in err.splitlines()), err
    for needle in needles:
        assert needle in err, err
    assert sorted(os.listdir(".")) == before, "exit 2 wrote something"
    return err


def _scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    return "s.yaml"


def _tiny_yaml(**top: Any) -> str:
    return yaml.safe_dump(tiny_data(**top), sort_keys=False)


# ------------------------------------------------------------------------------- YAML read safely
@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ("[" * 2_000 + "]" * 2_000, ("line 2", "nested more than 100 levels")),
        ("7" * 5_000, ("line 2", "5,000 digits")),
        ("!!int 1.5", ("line 2", "'1.5' cannot be read as a whole number")),
        ("2024-13-45", ("line 2", "cannot be read as a date")),
    ],
)
def test_raw_yaml_is_refused_with_its_line(
    raw: str, needles: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    text = _tiny_yaml().replace("seed: 1", f"seed: {raw}")
    _refused(["validate", _scenario(tmp_path, monkeypatch, text)], capsys, *needles)


def test_raw_yaml_in_an_override_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml())
    _refused(["run", path, "--set", "workload.jobs.0.count=!!int 1.5"], capsys, "--set", "whole number")
    _refused(["run", path, "--set", "seed=" + "9" * 5_000], capsys, "--set", "digits")


def test_twenty_thousand_sites_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    sites = [{"name": f"s{i}", "racks": 1, "nodes_per_rack": 1} for i in range(20_000)]
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml(datacenter={"sites": sites}))
    code, err = _cli(["validate", path], capsys)
    assert code == 0, err


# ------------------------------------------------------------------------------- numbers at the edges
def _classes(**fields: Any) -> dict[str, Any]:
    job = {"name": "j", "arrival": {"process": "poisson", "rate": "6/h"}, "gpus": 1, "duration": "30m", **fields}
    return {"jobs": [job]}


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"workload": _classes(duration={"dist": "lognormal", "median": "1h", "sigma": 1e308})}, "duration.sigma"),
        ({"workload": _classes(gpus={"values": [1, 2], "weights": [float("inf"), 1]})}, "gpus.weights.0"),
        ({"workload": _classes(gpus={"values": [1, 2], "weights": [float("nan"), 1]})}, "gpus.weights.0"),
        ({"workload": _classes(gpus={"values": [1, 2], "weights": [1e308, 1e308]})}, "workload.jobs.0.gpus"),
        ({"workload": _classes(duration={"dist": "weibull", "shape": 1e-300, "mean": "1h"})}, "duration.shape"),
        ({"workload": _classes(arrival={"process": "poisson", "rate": "1e400/s"})}, "arrival.rate"),
        ({"costs": {"pue": 1.3e300}}, "costs.pue"),
        ({"costs": {"gpu_hour_usd": 1e300}}, "costs.gpu_hour_usd"),
        ({"datacenter": {"sites": [{"name": "a", "racks": 10**12, "nodes_per_rack": 1}]}}, "datacenter"),
        ({"seed": 2**64}, "seed"),
        ({"horizon": "1e300d"}, "horizon"),
    ],
)
def test_edge_numbers_are_refused_at_their_field(
    top: dict[str, Any], field: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml(**{"horizon": "1d", **top}))
    _refused(["run", path, "--out", "res"], capsys, field)


def test_a_long_value_is_quoted_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml(horizon="1" + "x" * 100_000))
    err = _refused(["validate", path], capsys, "horizon", "...")
    assert len(err) < 1_000


def test_format_duration_of_a_huge_duration_is_short() -> None:
    assert len(format_duration(1e300)) < 20


# ------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "s.yaml", "--seed", "18446744073709551616"], "--seed"),
        (["run", "s.yaml", "--seed", "-1"], "--seed"),
        (["compare", "s.yaml", "--seed-list", "1,18446744073709551616"], "--seed-list"),
        (["compare", "s.yaml", "--set", "seed=9223372036854775807", "--seeds", "2"], "--seeds 2"),
        (["sweep", "s.yaml", "--workers", "100000"], "--workers"),
        (["sweep", "s.yaml", "--replications", "100000000"], "--replications"),
        (["allocate", "alloc.yaml", "--lambda", "inf"], "--lambda"),
        (["allocate", "alloc.yaml", "--lambda", "nan"], "--lambda"),
        (["allocate", "alloc.yaml", "--lambda-sweep", "0,1e400"], "--lambda-sweep"),
        (["allocate", "alloc.yaml", "--lambda-sweep", "nan"], "--lambda-sweep"),
        (["allocate", "alloc.yaml", "--csv", "."], "--csv"),
        (["allocate", "alloc.yaml", "--lambda-sweep", "1", "--out", "res", "--csv", "res"], "--csv"),
    ],
)
def test_edge_arguments_are_refused(
    argv: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _scenario(tmp_path, monkeypatch, _tiny_yaml())
    (tmp_path / "alloc.yaml").write_text(
        (ROOT / "scenarios" / "allocate_two_racks.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    _refused(argv, capsys, needle)


def test_a_seed_beyond_32_bits_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml())
    code, err = _cli(["run", path, "--seed", "4294967296", "--out", "res", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "res" / "summary.json").read_text())["run"]["seed"] == 4294967296


# ------------------------------------------------------------------------------- too large to simulate
@pytest.mark.parametrize(
    ("top", "needles"),
    [
        ({"metrics": {"sample_interval": "1e-9s"}}, ("metrics.sample_interval", "86,400,000,000,000 samples")),
        ({"workload": _classes(arrival={"process": "poisson", "rate": 1e9})}, ("arrival.rate", "jobs")),
        ({"workload": _classes(count=10**12, arrival={"process": "poisson", "rate": 1e9})}, ("count",)),
        ({"failures": {"gpu": {"mtbf": "1ms"}}}, ("failures", "failures")),
        (
            {"maintenance": [{"start": 0, "duration": "1ms", "scope": "node", "every": "10ms"}]},
            ("maintenance.0.every", "windows"),
        ),
    ],
)
def test_runs_too_large_to_simulate_are_refused(
    top: dict[str, Any], needles: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml(horizon="1d", **top))
    _refused(["run", path, "--out", "res"], capsys, *needles)


def test_a_run_without_horizon_that_would_sample_forever_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    data = tiny_data()
    data["workload"]["jobs"][0]["duration"] = "3e9m"  # four jobs, each ~5,700 years: samples every 5 min
    path = _scenario(tmp_path, monkeypatch, yaml.safe_dump(data))
    _refused(["run", path, "--out", "res"], capsys, "horizon", "samples")


def test_a_large_valid_count_still_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """The bound is on jobs that arrive: a huge count over a short horizon is fine."""
    path = _scenario(tmp_path, monkeypatch, _tiny_yaml(horizon="1d", workload=_classes(count=10**12)))
    code, err = _cli(["run", path, "--out", "res", "--quiet"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------------------- summary ranges
def test_mean_queue_is_never_negative(tmp_path: Path) -> None:
    """Found by a search: queued area = time in system - time running rounded to -1.4e-16 here."""
    (tmp_path / "f.csv").write_text(
        "time,component,duration\n9675.398873592812,node:0,7.791165988303298\n"
        "11785.291481230162,node:1,6.647091190933219\n11535.48769834943,node:0,31.515917017197957\n"
        "1650.8593725775406,node:0,36.88867819325342\n2141.7606693086277,node:1,49.59154586054435\n"
        "17311.1425454721,node:1,36.36345265934935\n",
        encoding="utf-8",
    )
    data = tiny_data(horizon="3.557144889134076h", failures={"trace": {"path": "f.csv"}})
    data["datacenter"]["sites"][0].update(racks=1, nodes_per_rack=2, node={"gpus": 1})
    data["workload"]["jobs"][0].update(
        arrival={"process": "periodic", "interval": "2.4284718928468725h", "start": "47.88033746792691s"},
        count=3, duration="0.9864254125007881h", checkpoint={"interval": "10m"},
    )  # fmt: skip
    summary = run_data(data, base_dir=str(tmp_path)).summary
    assert summary["faults"]["job_interruptions"] > 0
    assert summary["queue"]["mean_queued_jobs"] >= 0


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PyYAML keeps the last of two equal keys; a scenario whose `seed` is set twice says which lines."""
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(tiny_data(), sort_keys=False)
    path.write_text(text + "seed: 2\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    first = 1 + text.splitlines().index("seed: 1")
    assert f"line {len(text.splitlines()) + 1}" in err and f"'seed' is given twice (first on line {first})" in err
