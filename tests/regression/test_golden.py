"""Golden regression summaries: tiny scenarios covering every feature, checked byte for byte.

Each scenario in ``scenarios/`` (its first comment lines name the features it covers) is run
as ``dcsim run FILE`` runs it (``load_scenario``, ``simulate``, ``summary_json``), and its
summary.json must equal ``golden/<scenario>/summary.json`` byte for byte. A scenario with a
``sweep:`` block is run as ``dcsim sweep FILE`` runs it: the summary.json of each of its runs
(point P on seed S, as the sweep builds them) must equal
``golden/<scenario>/point<P>-seed<S>/summary.json``, and the sweep's ``runs.csv`` and
``points.csv`` the files of the same names in ``golden/<scenario>/``.

The golden files guard restructurings of the engine: any change of any byte of any summary
fails here, with a diff of the first lines that differ. When a change of results is meant,
regenerate them, read the diff (``git diff tests/regression/golden``) and commit it with the
change that explains it::

    DCSIM_UPDATE_GOLDEN=1 python -m pytest tests/regression

Only ``DCSIM_UPDATE_GOLDEN=1`` writes golden files (the tests then pass). Without it a missing
golden file is a failure, never a skip, and so is a golden file that no scenario produces
(delete it). The last digits of a summary also depend on numpy, pandas, scipy and HiGHS: after
upgrading them, regenerate, and check in the diff that only last digits moved.

The other tests show that the comparison can fail and is worth making: a second run of each
scenario in the same process gives the same bytes, another seed gives other bytes (and the
check fails on them with a diff), and the command line, from another folder and with another
hash seed, writes the very bytes of the in-process run.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dcsim
from dcsim.experiment import sweep
from dcsim.experiment.compare import Axis, parse_axis
from dcsim.experiment.run import simulate, summary_json
from dcsim.scenario.load import load_scenario, scenario_from_data

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
GOLDEN = HERE / "golden"
UPDATE_VARIABLE = "DCSIM_UPDATE_GOLDEN"
UPDATE = os.environ.get(UPDATE_VARIABLE) == "1"
REGENERATE = f"{UPDATE_VARIABLE}=1 python -m pytest tests/regression"
#: The folder that holds the dcsim imported here: the command-line runs import the same one.
SOURCE = Path(dcsim.__file__).resolve().parents[1]
DIFF_LINES = 40
"""Most lines of a diff shown in a failure."""


def _has_sweep(path: Path) -> bool:
    return "sweep" in yaml.safe_load(path.read_text(encoding="utf-8"))


_ALL = sorted(SCENARIOS.glob("*.yaml"))
RUNS = [p for p in _ALL if not _has_sweep(p)]
SWEEPS = [p for p in _ALL if _has_sweep(p)]
SWEEP_TABLES = ("runs.csv", "points.csv")


def sweep_axes(path: Path) -> tuple[list[Axis], int]:
    """The axes and replications that ``dcsim sweep FILE`` (no --grid, --policy) takes from the file's block."""
    block = load_scenario(str(path)).sweep
    assert block is not None
    axes = [parse_axis(f"{k}={','.join(v)}", True) for k, v in block.policies.items()]
    axes += [parse_axis(f"{k}={','.join(map(str, v))}", False, "sweep.grid") for k, v in block.grid.items()]
    return axes, block.replications


def sweep_tasks(path: Path) -> list[sweep.Task]:
    """Every run of the sweep kept in ``path``, as ``dcsim sweep`` plans it."""
    axes, replications = sweep_axes(path)
    return sweep.plan(str(path), axes, replications)


def run_golden(path: Path) -> Path:
    return GOLDEN / path.stem / "summary.json"


def task_golden(path: Path, task: sweep.Task) -> Path:
    return GOLDEN / path.stem / f"point{task.point}-seed{task.seed}" / "summary.json"


SWEEP_RUNS = [(path, task) for path in SWEEPS for task in sweep_tasks(path)]


def run_summary(path: Path, seed: int | None = None) -> str:
    """summary.json of ``dcsim run FILE [--seed N]``, made in this process."""
    return summary_json(simulate(load_scenario(str(path), seed=seed)).summary)


def first_differences(expected: str, actual: str, expected_name: str, actual_name: str) -> str:
    """A unified diff of two texts, cut to its first ``DIFF_LINES`` lines."""
    diff = list(
        difflib.unified_diff(expected.splitlines(), actual.splitlines(), expected_name, actual_name, n=2, lineterm="")
    )
    shown = diff[:DIFF_LINES]
    if len(diff) > DIFF_LINES:
        shown.append(f"... ({len(diff) - DIFF_LINES} more diff lines)")
    return "\n".join(shown)


def check_golden(golden: Path, actual: str | bytes, update: bool = UPDATE) -> None:
    """``actual`` (text is taken as UTF-8) must be the bytes of ``golden``; with ``update``, it is written there."""
    __tracebackhide__ = True  # a failure shows the diff, not this function
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    name = golden.relative_to(HERE).as_posix()
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
        return
    if not golden.is_file():
        pytest.fail(f"{name} is missing: write it with `{REGENERATE}`, read it, and commit it")
    expected = golden.read_bytes()
    if expected != data:
        text = data.decode("utf-8", errors="replace")
        diff = first_differences(expected.decode("utf-8", errors="replace"), text, name, "this run")
        diff = diff or "(the same lines: the files differ in line endings or a last newline)"
        pytest.fail(
            f"{name} differs from this run:\n{diff}\n"
            f"If the change is meant, regenerate with `{REGENERATE}` and commit the diff with its reason.",
        )


def cli(*args: str, cwd: Path, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    """``python -m dcsim ARGS`` in ``cwd``, importing the dcsim under test, with PYTHONHASHSEED ``hash_seed``."""
    env = {**os.environ, "PYTHONPATH": str(SOURCE), "PYTHONHASHSEED": hash_seed}
    env.pop(UPDATE_VARIABLE, None)
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"dcsim {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    return proc


# ---------------------------------------------------------------------------- the golden files


def test_there_are_scenarios_of_both_kinds() -> None:
    """The parametrized tests below have something to check: run scenarios and a sweep."""
    assert RUNS and SWEEPS


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_summary_is_the_golden_file(path: Path) -> None:
    """The scenario's summary.json is golden/<scenario>/summary.json, byte for byte."""
    check_golden(run_golden(path), run_summary(path))


@pytest.mark.parametrize(
    ("path", "task"), SWEEP_RUNS, ids=[f"{p.stem}/point{t.point}-seed{t.seed}" for p, t in SWEEP_RUNS]
)
def test_sweep_run_summary_is_the_golden_file(path: Path, task: sweep.Task) -> None:
    """Each run of a sweep, built as the sweep builds it, has the golden summary.json of its point and seed."""
    result = simulate(scenario_from_data(task.data, task.base_dir), task.seed)
    check_golden(task_golden(path, task), summary_json(result.summary))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_tables_are_the_golden_files(path: Path, tmp_path: Path) -> None:
    """`dcsim sweep FILE` writes the golden runs.csv and points.csv (no wall times or paths in them)."""
    out = tmp_path / "sweep"
    cli("sweep", str(path), "--out", str(out), "--workers", "2", cwd=tmp_path)
    for name in SWEEP_TABLES:
        check_golden(GOLDEN / path.stem / name, (out / name).read_bytes())


def test_every_golden_file_belongs_to_a_scenario() -> None:
    """No golden file is left over from a scenario, sweep point or table that no longer exists."""
    expected = {run_golden(p) for p in RUNS}
    expected |= {task_golden(p, t) for p, t in SWEEP_RUNS}
    expected |= {GOLDEN / p.stem / name for p in SWEEPS for name in SWEEP_TABLES}
    found = {p for p in GOLDEN.rglob("*") if p.is_file()} if GOLDEN.is_dir() else set()
    stale = sorted(p.relative_to(HERE).as_posix() for p in found - expected)
    assert not stale, f"golden files that no scenario produces; delete them: {', '.join(stale)}"


# ---------------------------------------------------------------------------- the check can fail


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_a_second_run_in_the_same_process_gives_the_same_bytes(path: Path) -> None:
    """Nothing left over from a first run (caches, registries, streams) changes a second one."""
    first = run_summary(path)
    assert run_summary(path) == first


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_another_seed_gives_another_summary_and_the_check_fails(path: Path) -> None:
    """A seed change changes the summary, and the golden check fails on it with a diff and the way to regenerate."""
    seed = load_scenario(str(path)).seed
    other = run_summary(path, seed=seed + 1)
    assert other != run_summary(path, seed=seed)
    with pytest.raises(pytest.fail.Exception) as failure:
        check_golden(run_golden(path), other, update=False)
    message = str(failure.value)
    assert "differs from this run" in message and "\n@@ " in message and REGENERATE in message


@pytest.mark.parametrize("name", ["06_priority_backfill_trace", "09_lp_highs"])
def test_the_command_line_writes_the_in_process_bytes(name: str, tmp_path: Path) -> None:
    """`dcsim run FILE --out DIR`, from another folder and another hash seed, writes this process's summary.json."""
    path = SCENARIOS / f"{name}.yaml"
    out = tmp_path / "run"
    cli("run", str(path), "--out", str(out), "--quiet", cwd=tmp_path, hash_seed="12345")
    written = (out / "summary.json").read_bytes()
    here = run_summary(path)
    assert written == here.encode("utf-8"), first_differences(here, written.decode(), "in process", "dcsim run")
