"""Ctrl-C is never lost: a SIGINT at any moment of a sweep's start-up ends it with 130, cleanly.

Python's default handler raises KeyboardInterrupt wherever the main thread is; during
the fork of a pool worker that is inside logging's ``_releaseLock`` (an at-fork hook),
where the exception is printed as "Exception ignored" and dropped, and the sweep ran to
its end; during the imports and the planning it was now and then dropped silently, or
the process died by the signal instead of exiting 130. The fork's window is a few
milliseconds per worker, so the signals here are sent at moments spread over the whole
start-up, and densely just after the sweep says it starts its runs (when the pool forks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import tiny_data

#: Seconds after spawning the command: imports, loading and planning the grid. Earlier than ~0.1 s is
#: CPython's own start-up (it reports a Ctrl-C while importing `site` as a fatal error; no program can change
#: that), so the first moment is after it.
AFTER_SPAWN = (0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 1.25, 1.5)
#: Seconds after the sweep's first line (printed just before the pool starts): its workers being forked.
AFTER_START = (0.0, 0.01, 0.02, 0.03, 0.045, 0.06, 0.08, 0.1, 0.13, 0.17, 0.25)
WORKERS = 6  # more workers, more forks: the window a signal can fall into is wider


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` (the sweep and every process it started; zombies left out)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session, ...
            alive.append(int(entry.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the worker processes")
def test_ctrl_c_at_any_moment_of_start_up_ends_the_sweep_with_130(tmp_path: Path) -> None:
    """Each try: exit 130, no traceback or "Exception ignored", no process left, no run to the end; then the sweep
    completes."""
    data = tiny_data(
        horizon="200d",  # about a second a run: no try's sweep can finish before its signal
        workload={"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": "6/h"},
                            "gpus": {"values": [1, 2, 4, 8]}, "duration": {"dist": "exponential", "mean": "2h"}}]},
    )  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "sweep"

    def command(folder: Path) -> list[str]:
        return [sys.executable, "-m", "dcsim", "sweep", str(path), "--grid", "datacenter.sites.0.racks=2,3",
                "--replications", "3", "--out", str(folder), "--workers", str(WORKERS)]  # fmt: skip

    tries = [("spawn", d) for d in AFTER_SPAWN] + [("start", d) for d in AFTER_START]
    problems = []
    for i, (since, delay) in enumerate(tries):
        # Each try its own folder: runs an earlier try stored would leave a later one nothing to do.
        cmd = command(tmp_path / f"try{i}")
        # a new session, so that the group is the sweep's alone (a terminal's Ctrl-C signals the whole group)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # fmt: skip
        head = ""
        if since == "start":
            head = proc.stderr.readline()  # type: ignore[union-attr]
            assert "runs" in head, head
        time.sleep(delay)
        group = i % 2 == 0  # Ctrl-C on a terminal signals the group; `kill -INT` the sweep alone
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        stderr = head + stderr
        left = time.monotonic() + 5
        while _session(proc.pid) and time.monotonic() < left:
            time.sleep(0.05)
        what = f"{delay} s after {since}, {'group' if group else 'process'}"
        if proc.returncode != 130:
            problems.append(f"{what}: exit {proc.returncode}\n{stderr}")
        if "Traceback" in stderr or "Exception ignored" in stderr:
            problems.append(f"{what}: {stderr}")
        if _session(proc.pid):
            problems.append(f"{what}: processes left: {_session(proc.pid)}")
        if "runs.parquet" in stdout:
            problems.append(f"{what}: ran to the end")
    assert not problems, "\n".join(problems)
    assert not list(tmp_path.glob("try*/runs.parquet"))
    again = subprocess.run(command(out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "6/6 runs, 0 failed" in again.stderr
    assert (out / "runs.parquet").exists()
