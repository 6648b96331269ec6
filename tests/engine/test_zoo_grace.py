"""Preemptive zoo orders with ``preemption.grace``: a victim in its grace is leaving, told once, counted once.

Every expected time of the hand-built case is computed in its docstring; none is read off a run.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_tenants import run, starts
from test_zoo_speed import busy_data

from dcsim.policies import zoo

from conftest import run_data

#: Passes at one instant that mean a storm (the bug: a pass re-chose a victim in its grace, the engine
#: dropped the pass half drawn and the stale wake-up fired again at once, for ever).
STORM = 200


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Counter[float]:
    """Passes of the preemptive orders per simulated instant; a storm fails the test instead of hanging it."""
    counts: Counter[float] = Counter()
    full_pass = zoo._Preemptive._pass

    def counted(self: zoo._Preemptive, queue: Any, cluster: Any, now: float, arrival: Any) -> Any:
        counts[now] += 1
        if counts[now] > STORM:
            raise AssertionError(f"{counts[now]} passes at t={now} s")
        return full_pass(self, queue, cluster, now, arrival)

    monkeypatch.setattr(zoo._Preemptive, "_pass", counted)
    return counts


def test_a_job_waits_for_its_victim_in_its_grace_and_takes_no_second_victim(
    tmp_path: Path, passes: Counter[float]
) -> None:
    """One 8-GPU node, Tiresias with one threshold of 0.25 GPU-h (900 GPU-s), no promotion, grace 60 s, save
    on_preemption (no checkpoints: a victim resumes where it stopped, at no cost).

    j0 (7 GPUs, 5000 s) at 0 crosses 900 GPU-s at 900 / 7 = 128.6 s: queue 1. j1 (1 GPU, 2000 s) at 1
    crosses at 901. j2 (7 GPUs, 500 s) at 850, queue 0, finds no GPU free: it tells j0 (queue 1; j1 is
    still in queue 0), which keeps its GPUs to 910. At 901 j1 moves to queue 1 and the scheduler is
    woken: j0's 7 GPUs are coming to j2, so j1 is no victim (it was, told on top of j0, and the pass
    that chose j0 again stormed). At 910 j0 leaves with 910 s done; j2 runs 910-1410. j0 (queue 1)
    may not preempt j1 (queue 1): it resumes when j2 ends, 1410 + 4090 = 5500. j1 runs 1-2001.
    """
    rows = [(0, 7, 5000, 0, ""), (1, 1, 2000, 0, ""), (850, 7, 500, 0, "")]
    tiresias = {"name": "tiresias", "params": {"thresholds_gpu_h": [0.25], "starve_limit": 0}}
    rules = {"grace": "60s", "save": "on_preemption"}
    r = run(tmp_path, rows, [], nodes=1, preemption=rules, scheduler=tiresias)
    assert starts(r) == [(0, 0.0, 5500.0), (1, 1.0, 2001.0), (2, 910.0, 1410.0)]
    assert list(r.jobs["preemptions"]) == [1, 0, 0]
    assert max(passes.values()) <= 3


@pytest.mark.parametrize("scheduler", ["tiresias", "srtf", "las"])
def test_a_busy_run_with_a_grace_settles_at_each_instant(scheduler: str, passes: Counter[float]) -> None:
    """100 jobs on 32 GPUs at load 0.95 with a 60 s grace: every job ends, and no instant takes a storm of passes."""
    data = busy_data({}, jobs=100)
    data["policies"]["scheduler"] = {"name": scheduler}
    data["preemption"]["grace"] = "60s"
    r = run_data(data)
    assert r.summary["jobs"]["completed"] == 100
    assert sum(r.jobs["preemptions"]) > 10  # victims are told, and keep their GPUs for the grace
    assert max(passes.values()) <= 10
