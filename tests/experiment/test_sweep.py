"""Sweeps: identical tables whatever the executor, resume after a kill, statistics, failing runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy import stats

from dcsim.experiment.compare import parse_axis
from dcsim.experiment.sweep import execute, plan, points_table, runs_table, write_tables

from conftest import ROOT, poisson_file


def scenario_file(tmp_path: Path, horizon: str = "2d", **top: Any) -> Path:
    """A small scenario (2 racks of 2 nodes of 8 GPUs, Poisson 1- to 8-GPU jobs, 2 days)."""
    return poisson_file(tmp_path, horizon, **top)


def sweep(path: Path, out: Path, grid: list[str], reps: int, **kw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    axes = [parse_axis(g, policy=False) for g in grid]
    tasks = plan(str(path), axes, reps)
    runs = runs_table(tasks, execute(tasks, str(out), **kw), axes)
    points = points_table(runs, axes)
    write_tables(str(out), runs, points)
    return runs, points


GRID = ["datacenter.sites.0.racks=2,3", "workload.jobs.0.arrival.rate=4/h,8/h"]


def test_local_dask_and_one_worker_give_the_same_bytes(tmp_path: Path) -> None:
    """The same sweep on 1 process, a pool of 2 and a Dask LocalCluster started here on loopback."""
    from distributed import LocalCluster

    path = scenario_file(tmp_path)
    one, _ = sweep(path, tmp_path / "one", GRID, 2, workers=1)
    sweep(path, tmp_path / "pool", GRID, 2, workers=2)
    from distributed import Client, get_task_stream

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        with get_task_stream(client) as stream:
            sweep(path, tmp_path / "dask", GRID, 2, executor="dask", scheduler=cluster.scheduler_address)
        ran = [t["key"] for t in stream.data]
    assert len(ran) == 8 and all(str(k).startswith("dcsim-run-") for k in ran)  # this cluster ran the 8 runs
    for name in ("runs.parquet", "points.parquet", "runs.csv", "points.csv"):
        first = (tmp_path / "one" / name).read_bytes()
        assert (tmp_path / "pool" / name).read_bytes() == first, name
        assert (tmp_path / "dask" / name).read_bytes() == first, name
    # 4 points x 2 seeds, grid-major; the same two seeds at every point (common random numbers).
    assert len(one) == 8 and list(one["point"]) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert list(one["seed"]) == [1, 2] * 4
    assert (one["error"] == "").all()
    assert list(one["datacenter.sites.0.racks"]) == ["2"] * 4 + ["3"] * 4
    # Paired: the arrivals do not depend on the racks, so submitted jobs match across that axis.
    by = one.set_index(["workload.jobs.0.arrival.rate", "seed", "datacenter.sites.0.racks"])["jobs.submitted"]
    assert (by.xs("2", level=2) == by.xs("3", level=2)).all()


def test_points_hold_mean_std_and_the_t_interval_of_their_runs(tmp_path: Path) -> None:
    runs, points = sweep(scenario_file(tmp_path), tmp_path / "s", GRID[:1], 5, workers=1)
    for point, group in runs.groupby("point"):
        values = group["jobs.mean_wait_s"].to_numpy(dtype=float)
        row = points[(points["point"] == point) & (points["metric"] == "jobs.mean_wait_s")].iloc[0]
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert row["n"] == 5
        assert row["mean"] == pytest.approx(values.mean())
        assert row["std"] == pytest.approx(values.std(ddof=1))
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize(("plugin", "message"), [("Raises", "oops"), ("Dies", "process died")])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_run_is_recorded_and_the_rest_complete(
    tmp_path: Path, plugin: str, message: str, workers: str
) -> None:
    """A plug-in that raises, or kills its process, fails its runs; the other point's runs complete; exit 4."""
    path = scenario_file(tmp_path)
    out = tmp_path / "s"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim", "sweep", str(path), "--policy",
         f"placement=first_fit,plugins.toy_policies:{plugin}", "--replications", "2", "--out", str(out),
         "--workers", workers],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and "2 of 4 run(s) failed" in proc.stderr
    runs = pd.read_csv(out / "runs.csv", keep_default_na=False)
    failed = runs[runs["policies.placement"] == f"plugins.toy_policies:{plugin}"]
    assert len(failed) == 2 and failed["error"].str.contains(message).all()
    ok = runs[runs["policies.placement"] == "first_fit"]
    assert (ok["error"] == "").all() and (pd.to_numeric(ok["jobs.completed"]) > 0).all()
    points = pd.read_csv(out / "points.csv")
    assert set(points["point"]) == {0}  # statistics of successful runs only


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_killed_sweep_resumes_without_running_anything_twice(tmp_path: Path, sig: signal.Signals) -> None:
    """Killed mid-sweep, then the same command: every run is there once; those done before are untouched.

    SIGINT (Ctrl-C) ends the sweep with exit 130 and says how to go on; SIGKILL gives no chance to.
    """
    path = scenario_file(tmp_path, horizon="20d")
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "dcsim", "sweep", str(path), "--grid", "datacenter.sites.0.racks=2,3,4",
           "--replications", "3", "--out", str(out), "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs_dir = out / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = [p for p in runs_dir.glob("*.json")] if runs_dir.exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs_dir.glob("*.json")}
    assert 2 <= len(before) < 9, "the sweep was not killed mid-way"
    assert not (out / "runs.parquet").exists()  # no table from a sweep that did not finish
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(before)} stored before" in again.stderr
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs_dir.glob("*.json")}
    assert len(after) == 9 and not list(runs_dir.glob("*.tmp-*"))
    assert all(after[name] == stamp for name, stamp in before.items())  # not run again
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 9 and runs[["point", "seed"]].drop_duplicates().shape[0] == 9
    # The resumed tables equal those of a sweep run in one go.
    fresh = tmp_path / "fresh"
    subprocess.run([*cmd[:-4], "--out", str(fresh), "--workers", "1"], check=True, capture_output=True, timeout=300)
    for name in ("runs.parquet", "points.parquet"):
        assert (fresh / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--grid", "foo"], "--grid 'foo'"),
        (["--replications", "0"], "--replications: 0 is out of range"),
        (["--workers", "0"], "--workers: 0 is out of range"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--executor dask"),
        (["--grid", "datacenter.sites.0.racks=0,2"], "datacenter.sites.0.racks"),
    ],
)
def test_bad_sweep_arguments_are_named_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    from dcsim.cli import main

    path = scenario_file(tmp_path)
    try:
        code = main(["sweep", str(path), "--out", str(tmp_path / "s"), "--workers", "1", *extra])
    except SystemExit as exc:  # argparse's own errors: an out-of-range number
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "s" / "runs.parquet").exists()


def test_a_folder_of_other_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.cli import main

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    code = main(["sweep", str(scenario_file(tmp_path)), "--out", str(tmp_path / "s"), "--workers", "1"])
    assert code == 2 and "notes.txt" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["notes.txt"]


def test_a_sweep_kept_in_the_scenario_runs_and_growing_it_reuses_the_runs_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sweep:` in the file is what `dcsim sweep FILE` runs; a value added to it runs only the new point."""
    from dcsim.cli import main

    path = scenario_file(tmp_path, sweep={"grid": {"datacenter.sites.0.racks": [2, 3]}, "replications": 2})
    assert main(["sweep", str(path), "--out", str(tmp_path / "s"), "--workers", "1"]) == 0
    runs = pd.read_parquet(tmp_path / "s" / "runs.parquet")
    assert list(runs["datacenter.sites.0.racks"]) == ["2", "2", "3", "3"] and list(runs["seed"]) == [1, 2, 1, 2]
    capsys.readouterr()
    path2 = scenario_file(tmp_path, sweep={"grid": {"datacenter.sites.0.racks": [2, 3, 4]}, "replications": 2})
    assert path2 == path
    assert main(["sweep", str(path), "--out", str(tmp_path / "s"), "--workers", "1"]) == 0
    assert "4 stored before" in capsys.readouterr().err
    grown = pd.read_parquet(tmp_path / "s" / "runs.parquet")
    assert len(grown) == 6
    pd.testing.assert_frame_equal(grown.iloc[:4], runs)
    # `dcsim run` ignores the block.
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 0


def test_plot_draws_each_metric_against_an_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.cli import main

    sweep(scenario_file(tmp_path), tmp_path / "s", GRID, 2, workers=1)
    assert main(["plot", str(tmp_path / "s"), "--metric", "jobs.mean_wait_s", "--metric", "cost.total_usd"]) == 0
    plots = sorted(p.name for p in (tmp_path / "s" / "plots").iterdir())
    assert plots == ["cost.total_usd-vs-racks.png", "jobs.mean_wait_s-vs-racks.png"]
    assert all((tmp_path / "s" / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    assert main(["plot", str(tmp_path / "s"), "--x", "workload.jobs.0.arrival.rate"]) == 0
    capsys.readouterr()
    for args, expected in ((["--metric", "jobs.nope"], "jobs.nope"), (["--x", "seed"], "its axes")):
        assert main(["plot", str(tmp_path / "s"), *args]) == 2
        assert expected in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
    assert "no points.parquet" in capsys.readouterr().err


class _Tty:
    """A stream that says it is a terminal."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_redraws_on_a_terminal_and_prints_lines_elsewhere() -> None:
    import io

    from dcsim.report.progress import SweepProgress

    tty = _Tty()
    p = SweepProgress(4, stream=tty)  # type: ignore[arg-type]
    for error, cached in ((None, True), ("X: y", False), (None, False), (None, False)):
        p({"error": error}, cached)
    frames = tty.text.split("\r")[1:]
    assert len(frames) == 4 and frames[-1].endswith("\n")
    assert "4/4 runs, 1 failed, 1 stored before" in frames[-1] and "ETA" in frames[1] and "ETA" not in frames[-1]
    log = io.StringIO()
    q = SweepProgress(3, stream=log, every_s=3600)
    for _ in range(3):
        q({"error": None}, False)
    assert log.getvalue().count("\n") == 1 and "3/3 runs, 0 failed" in log.getvalue() and "\r" not in log.getvalue()


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        out |= {int(c) for c in text.split()}
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signalling_the_sweep_alone_stops_its_workers_at_once(tmp_path: Path, sig: signal.Signals) -> None:
    """A signal to the sweep's process only (kill PID, not Ctrl-C on the terminal's group): long runs in two
    workers are not waited for, no worker is left behind, and what finished before stays stored."""
    path = scenario_file(tmp_path, horizon="4000d")  # runs of several seconds each
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "dcsim", "sweep", str(path), "--grid", "datacenter.sites.0.racks=2,3",
           "--replications", "3", "--out", str(out), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the pool did not start"
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(timeout=30)
    assert time.monotonic() - t0 < 10  # not the minutes the runs in flight would take
    assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    gone = time.monotonic() + 10
    while time.monotonic() < gone and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in _state(w)]
    assert not alive, f"workers left running: {alive}"
    assert not list((out / "runs").glob("*.json")) or all(p.stat().st_size > 0 for p in (out / "runs").glob("*.json"))


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


def test_write_atomically_leaves_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    from dcsim.core.files import write_atomically

    target = tmp_path / "t.csv"
    target.write_text("old")

    def half(tmp: str) -> None:
        Path(tmp).write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(str(target), half)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    write_atomically(str(target), lambda tmp: Path(tmp).write_text("new"))
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_the_grid_cannot_vary_the_seed_or_repeat_an_axis(tmp_path: Path) -> None:
    from dcsim.core.errors import DcsimError

    path = scenario_file(tmp_path)
    with pytest.raises(DcsimError, match="--replications"):
        plan(str(path), [parse_axis("seed=1,2", False)], 2)
    racks = [parse_axis(f"datacenter.sites.0.racks={n}", False) for n in (2, 3)]
    with pytest.raises(DcsimError, match="twice"):
        plan(str(path), racks, 2)


def test_a_pool_starts_no_more_workers_than_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--workers 64` for 2 runs forks 2 processes, not 64 (a forking pool starts all its workers at once)."""
    import dcsim.experiment.sweep as sweep_module

    sizes: list[int] = []
    real = sweep_module._pool
    monkeypatch.setattr(sweep_module, "_pool", lambda n: sizes.append(n) or real(n))
    runs, _ = sweep(scenario_file(tmp_path), tmp_path / "out", ["datacenter.sites.0.racks=2"], 2, workers=64)
    assert sizes == [2]
    assert (runs["error"] == "").all() and len(runs) == 2
