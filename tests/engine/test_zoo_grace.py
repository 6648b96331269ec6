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

from dcsim.engine.dispatch import Dispatcher
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
def test_a_busy_run_with_a_grace_settles_at_each_instant(
    scheduler: str, passes: Counter[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 jobs on 32 GPUs at load 0.95 with a 60 s grace: every job ends, no instant takes a storm of
    passes, and no victim in its grace is chosen again (the engine refuses such a preemption)."""
    again = [0]
    preempt = Dispatcher._preempt

    def counted(self: Dispatcher, decision: Any) -> bool:
        done = preempt(self, decision)
        again[0] += not done
        return done

    monkeypatch.setattr(Dispatcher, "_preempt", counted)
    data = busy_data({}, jobs=100)
    data["policies"]["scheduler"] = {"name": scheduler}
    data["preemption"]["grace"] = "60s"
    r = run_data(data)
    assert r.summary["jobs"]["completed"] == 100
    assert sum(r.jobs["preemptions"]) > 10  # victims are told, and keep their GPUs for the grace
    assert max(passes.values()) <= 10
    assert again[0] == 0


def test_a_victim_that_ends_in_its_grace_frees_its_gpus_once(tmp_path: Path) -> None:
    """Tenant a (quota 16) on two 8-GPU nodes, within_tenant lower_priority, grace 60 s, save on_preemption.

    lo (8 GPUs, 100 s, priority 0) and lo2 (8, 1000 s, priority 1) at 0, on nodes 0 and 1. hi (8, 200 s,
    priority 5) at 70 tells lo (the lowest priority), which keeps its GPUs to 130 but ends at 100: hi
    runs 100-300 on them. mid (8, 100 s, priority 3) at 110 has lo2 as its candidate: lo, ended, holds
    nothing (the what-if counted its GPUs free again, so mid seemed to fit and waited to 130), so mid
    tells lo2 at 110; lo2 keeps its GPUs to 170, when mid starts (to 270). lo2, 170 s done, resumes
    when mid ends (hi holds node 0 to 300): 270 + 830 = 1100.
    """
    rows = [(0, 8, 100, 0, "a"), (0, 8, 1000, 1, "a"), (70, 8, 200, 5, "a"), (110, 8, 100, 3, "a")]
    rules = {"within_tenant": "lower_priority", "grace": "60s", "save": "on_preemption"}
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": 16}}], preemption=rules)
    assert starts(r) == [(0, 0.0, 100.0), (1, 0.0, 1100.0), (2, 100.0, 300.0), (3, 170.0, 270.0)]
    assert list(r.jobs["preemptions"]) == [0, 1, 0, 0]
