"""The ``dcsim`` command on good input: files written, manifest, overrides, schema, compare, help.

Runs are kept short with ``--set horizon=2d --set warmup=0`` (quickstart: 256 GPUs, 2 days,
a few hundred jobs, well under a second).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dcsim.cli import build_parser, main
from dcsim.scenario.schema import Scenario

from conftest import ROOT, SHIPPED_SCENARIOS, SPEC_FILES, SPEC_FUTURE

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["--set", "horizon=2d", "--set", "warmup=0"]
HORIZON_S = 2 * 86400
SCENARIO_FILES = SPEC_FILES + SHIPPED_SCENARIOS
SUBCOMMANDS = ["run", "validate", "compare", "allocate", "sweep", "plan", "plot", "schema", "policies", "import"]


def cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """Run ``dcsim argv`` in-process; return (status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- run
@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One short quickstart run with every optional output: (results dir, exit status)."""
    out = tmp_path_factory.mktemp("run") / "q"
    code = main(["run", str(QUICKSTART), *SHORT, "--out", str(out), "--csv", "--plots", "--events", "--quiet"])
    return out, code


def test_run_writes_every_file(full_run: tuple[Path, int]) -> None:
    out, code = full_run
    assert code == 0
    expected = {
        "summary.json", "manifest.json", "jobs.parquet", "timeseries.parquet",
        "jobs.csv", "timeseries.csv", "utilization.png", "wait_cdf.png", "events.parquet", "events.csv",
    }  # fmt: skip
    assert {p.name for p in out.iterdir()} == expected
    for png in ("utilization.png", "wait_cdf.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["q"]  # no temporary leftovers
    events = pd.read_parquet(out / "events.parquet")
    jobs = pd.read_parquet(out / "jobs.parquet")
    counts = events["kind"].value_counts()
    assert counts["job_submitted"] == len(jobs)
    assert counts["job_started"] == jobs["start_s"].notna().sum()
    assert counts["job_finished"] == jobs["finish_s"].notna().sum()


def test_csv_and_parquet_hold_the_same_tables(full_run: tuple[Path, int]) -> None:
    out = full_run[0]
    for name in ("jobs", "timeseries"):
        parquet = pd.read_parquet(out / f"{name}.parquet")
        csv = pd.read_csv(out / f"{name}.csv")
        assert list(parquet.columns) == list(csv.columns)
        assert len(parquet) == len(csv) > 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert ts["time_s"].max() <= HORIZON_S


def test_manifest_records_what_produced_the_run(full_run: tuple[Path, int]) -> None:
    m = manifest(full_run[0])
    for key in ("scenario", "scenario_hash", "seed", "dcsim_version", "wall_time_s", "overrides"):
        assert key in m, key
    import dcsim

    assert m["dcsim_version"] == dcsim.__version__
    assert m["seed"] == 1  # quickstart's own seed
    assert len(m["scenario_hash"]) == 64 and int(m["scenario_hash"], 16) >= 0
    assert m["wall_time_s"] >= 0
    assert m["overrides"] == ["horizon=2d", "warmup=0"]
    resolved = m["scenario"]
    assert set(resolved) == set(Scenario.model_fields)
    assert resolved["name"] == "quickstart"
    assert resolved["horizon"] == HORIZON_S  # resolved into seconds
    assert resolved["warmup"] == 0


def test_summary_json_matches_the_run(full_run: tuple[Path, int]) -> None:
    summary = json.loads((full_run[0] / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["scenario"] == "quickstart"
    assert summary["run"]["seed"] == 1


def test_seed_option_changes_the_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli(capsys, "run", QUICKSTART, *SHORT, "--seed", "7", "--out", tmp_path / "a", "--quiet")
    assert code == 0
    code, _, _ = cli(capsys, "run", QUICKSTART, *SHORT, "--out", tmp_path / "b", "--quiet")
    assert code == 0
    a, b = manifest(tmp_path / "a"), manifest(tmp_path / "b")
    assert (a["seed"], a["scenario"]["seed"]) == (7, 7)
    assert (b["seed"], b["scenario"]["seed"]) == (1, 1)
    assert a["scenario_hash"] == b["scenario_hash"]  # the hash leaves the seed out
    jobs_a = pd.read_parquet(tmp_path / "a" / "jobs.parquet")
    jobs_b = pd.read_parquet(tmp_path / "b" / "jobs.parquet")
    assert not jobs_a["submit_s"].equals(jobs_b["submit_s"])


def test_set_changes_the_resolved_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", QUICKSTART, "--set", "warmup=0", "--quiet"]
    assert cli(capsys, *base, "--set", "horizon=2d", "--out", tmp_path / "a")[0] == 0
    assert cli(capsys, *base, "--set", "horizon=1d", "--out", tmp_path / "b")[0] == 0
    a, b = manifest(tmp_path / "a"), manifest(tmp_path / "b")
    assert a["scenario"]["horizon"] == 2 * 86400
    assert b["scenario"]["horizon"] == 1 * 86400
    assert a["scenario_hash"] != b["scenario_hash"]


def test_set_steps_into_lists_by_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli(
        capsys, "run", QUICKSTART, *SHORT, "--set", "workload.jobs.1.duration.median=45m",
        "--set", "policies.scheduler=sjf", "--out", tmp_path / "a", "--quiet",
    )  # fmt: skip
    assert code == 0
    resolved = manifest(tmp_path / "a")["scenario"]
    assert resolved["workload"]["jobs"][1]["duration"]["median"] == 45 * 60
    assert resolved["workload"]["jobs"][0]["duration"]["median"] == 2 * 3600  # untouched
    assert resolved["policies"]["scheduler"]["name"] == "sjf"


def test_default_out_dir_is_keyed_by_seed_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "run", QUICKSTART, *SHORT)
    assert code == 0
    runs = list((tmp_path / "results" / "quickstart").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("seed1-")
    assert (runs[0] / "summary.json").exists()
    assert f"results/quickstart/{runs[0].name}" in out


def test_json_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run", QUICKSTART, *SHORT, "--json", "--out", tmp_path / "a")
    assert code == 0
    assert json.loads(out) == json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "run", QUICKSTART, *SHORT, "--quiet", "--out", tmp_path / "a") == (0, "", "")


def test_table_names_the_results_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run", QUICKSTART, *SHORT, "--out", tmp_path / "a")
    assert code == 0
    assert "quickstart" in out and "GPU utilization" in out
    assert str(tmp_path / "a") in out


# --------------------------------------------------------------------------- progress
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _eager_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress that would print at every sample (no start delay, no rate limit)."""
    from dcsim.report import progress

    real = progress.Progress

    class Eager(real):  # type: ignore[misc, valid-type]
        def __init__(self, horizon: float | None, stream: Any = None, delay_s: float = 0.0, every_s: float = 0.0):
            super().__init__(horizon, stream, delay_s=0.0, every_s=0.0)

    monkeypatch.setattr(progress, "Progress", Eager)


def test_no_progress_output_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _eager_progress(monkeypatch)
    code, out, err = cli(capsys, "run", QUICKSTART, *SHORT, "--out", tmp_path / "a")
    assert code == 0
    assert "\r" not in err and "\r" not in out


def test_progress_output_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: the same run on a terminal does print progress lines."""
    _eager_progress(monkeypatch)
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["run", str(QUICKSTART), *SHORT, "--out", str(tmp_path / "a")]) == 0
    assert "\r  sim " in tty.getvalue()


def test_no_progress_output_in_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim.cli", "run", str(QUICKSTART), *SHORT, "--out", str(tmp_path / "a")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    assert proc.stderr == ""


# --------------------------------------------------------------------------- validate
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[f"{p.parent.name}/{p.name}" for p in SCENARIO_FILES])
def test_every_shipped_scenario_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", path)
    assert (code, err) == (0, "")
    assert out.startswith(f"{path}: valid.")


def test_validate_with_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "validate", QUICKSTART, "--set", "datacenter.sites.0.racks=2")
    assert code == 0
    assert "64 GPUs on 8 nodes in 2 racks" in out  # 2 racks x 4 nodes x 8 GPUs


# --------------------------------------------------------------------------- schema, policies
def test_schema_mentions_every_top_level_field_and_the_units(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "schema")
    assert code == 0
    for field in Scenario.model_fields:
        assert f"\n  {field} " in out, field
    for example in ("90s", "10/h", "700W", "1.2kW", "400Gbps", "500GB"):
        assert example in out, example
    for unit in ("duration", "rate", "power", "bandwidth", "size"):
        assert f"{unit}:" in out, unit


def test_schema_markdown_is_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "schema", "--markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("# ")
    headers = [i for i, line in enumerate(lines) if line == "| field | type | unit | default | meaning |"]
    assert len(headers) >= 10
    for i in headers:
        assert lines[i + 1] == "|---|---|---|---|---|"
        assert lines[i + 2].startswith("| `")
    for field in Scenario.model_fields:
        assert f"| `{field}` |" in out, field
    table_rows = [line for line in lines if line.startswith("| `")]
    assert all(line.endswith("|") for line in table_rows)
    assert "## Units" in out


def test_schema_json_is_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "schema", "--json")
    assert code == 0
    schema = json.loads(out)
    assert set(Scenario.model_fields) <= set(schema["properties"])
    assert set(schema["required"]) == {"name", "datacenter"}  # a scenario of services alone has no workload


def test_policies_lists_every_registered_policy(capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.policies import REGISTRIES

    code, out, _ = cli(capsys, "policies")
    assert code == 0
    for registry in REGISTRIES.values():
        for name in registry.names():
            assert f"  {name} " in out, name


# --------------------------------------------------------------------------- compare
def test_compare_prints_both_variants_and_writes_one_row_per_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "cmp" / "x.csv"
    code, out, err = cli(
        capsys, "compare", QUICKSTART, *SHORT, "--policy", "scheduler=fifo,sjf", "--seeds", "2", "--out", out_csv
    )
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("variant"))
    assert header.split() == ["variant:", "policies.scheduler", "fifo", "sjf"]
    assert "seed(s) 1, 2" in out
    assert str(out_csv) in out
    table = pd.read_csv(out_csv)
    assert len(table) == 4  # 2 variants x 2 seeds
    assert sorted(zip(table["variant"], table["seed"], strict=True)) == [
        ("fifo", 1), ("fifo", 2), ("sjf", 1), ("sjf", 2),
    ]  # fmt: skip
    # Common random numbers: both schedulers see the same jobs on the same seed.
    submitted = table.pivot(index="seed", columns="variant", values="jobs.submitted")
    assert (submitted["fifo"] == submitted["sjf"]).all()
    assert [p.name for p in out_csv.parent.iterdir()] == ["x.csv"]  # no temporary leftovers
    assert err.count("  ran ") == 4


def test_compare_seed_list_and_vary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_csv = tmp_path / "x.csv"
    code, _, _ = cli(
        capsys, "compare", QUICKSTART, *SHORT, "--vary", "datacenter.sites.0.racks=4,8",
        "--seed-list", "3,5", "--out", out_csv,
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out_csv)
    assert sorted(zip(table["variant"].astype(str), table["seed"], strict=True)) == [
        ("4", 3), ("4", 5), ("8", 3), ("8", 5),
    ]  # fmt: skip


# --------------------------------------------------------------------------- help
def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out
    assert "Exit status" in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: dcsim {command}" in capsys.readouterr().out


def test_subcommands_match_the_parser() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(SUBCOMMANDS)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import dcsim

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"dcsim {dcsim.__version__}"


def test_console_script_help() -> None:
    """The install puts the `dcsim` script beside this interpreter; every --help runs from it."""
    exe = str(Path(sysconfig.get_path("scripts")) / "dcsim")
    assert Path(exe).exists(), f"{exe} missing: install dcsim with pip install -e '.[test]'"
    for argv in (["--help"], *([c, "--help"] for c in SUBCOMMANDS)):
        proc = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (argv, proc.stderr)
        assert proc.stdout.startswith("usage: dcsim")


def test_output_into_a_closed_pipe_gives_no_traceback() -> None:
    """`dcsim schema --markdown | head -5`: the reader goes away; no traceback, no 'Exception ignored'."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dcsim.cli", "schema", "--markdown"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr


@pytest.mark.parametrize("path", SPEC_FUTURE, ids=[f"{p.parent.name}/{p.name}" for p in SPEC_FUTURE])
def test_spec_files_of_unbuilt_features_are_refused_cleanly(path: Path) -> None:
    """A user's file that uses features not built yet: exit 2, every problem on its own line with its path,
    the unknown fields named, and no traceback (as a real process, from the file's folder)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim", "validate", path.name], cwd=path.parent, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"dcsim validate: error: {path.name}: ") and "problem" in lines[0]
    unbuilt = ("unknown key", "unknown scheduler", "unknown placement", "not modelled yet", "not built yet")
    assert any(word in line for line in lines[1:] for word in unbuilt)
    assert all(line.startswith("  ") and ": " in line for line in lines[1:])
