"""Preemptive zoo orders (tiresias, srtf, las) under a ``tenants`` block: they settle, and the quotas hold.

The bug: the zoo preempted for a job its tenant's quota did not admit (its victims restarted at
once and were preempted again), or preempted a job that took its GPUs back by the tenants'
rules (reclaim, or within-tenant priority), each undoing the other at one instant until the
recursive re-pass overflowed the stack. Every expected time of the hand-built cases is computed
in its docstring (one 8-GPU node, srtf, no checkpoints); none is read off a run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_tenants import run, starts

from conftest import run_data

SCENARIO = Path(__file__).parents[1] / "regression" / "scenarios" / "19_tenants.yaml"
H = 3600


def test_no_preemption_for_a_job_its_quota_does_not_admit(tmp_path: Path) -> None:
    """a (quota 8) and b (quota 4). X (b, 4 GPUs, 10 h), Y (a, 2, 2 h) and U (a, 2, 20 h) at 0 fill the node.
    Z (b, 4, 1 h) at 1 h ranks first (1 h left) but b holds its 4: not admitted. When Y ends at 2 h, 2 GPUs
    free, Z preempts no one (not U, 18 h left, whose GPUs would not admit it). Z starts on X's GPUs when X
    ends, 10 h, and ends at 11 h; U runs 0-20 h."""
    rows = [(0, 4, 10 * H, 0, "b"), (0, 2, 2 * H, 0, "a"), (0, 2, 20 * H, 0, "a"), (H, 4, H, 0, "b")]
    tenants = [{"name": "a", "quota": {"gpus": 8}}, {"name": "b", "quota": {"gpus": 4}}]
    r = run(tmp_path, rows, tenants, nodes=1, scheduler="srtf")
    assert starts(r) == [(0, 0.0, 10.0 * H), (1, 0.0, 2.0 * H), (2, 0.0, 20.0 * H), (3, 10.0 * H, 11.0 * H)]
    assert list(r.jobs["preemptions"]) == [0, 0, 0, 0]


def test_no_preemption_of_another_tenants_job(tmp_path: Path) -> None:
    """a and b (quota 8 each, no cohort). X (a, 8 GPUs, 10 h) at 0; Z (b, 8, 1 h) at 1 h is admitted and
    ranks first, but X is a's: GPUs move between tenants by the quotas only. Z runs 10-11 h."""
    rows = [(0, 8, 10 * H, 0, "a"), (H, 8, H, 0, "b")]
    tenants = [{"name": "a", "quota": {"gpus": 8}}, {"name": "b", "quota": {"gpus": 8}}]
    r = run(tmp_path, rows, tenants, nodes=1, scheduler="srtf")
    assert starts(r) == [(0, 0.0, 10.0 * H), (1, 10.0 * H, 11.0 * H)]
    assert list(r.jobs["preemptions"]) == [0, 0]


def test_a_job_preempts_its_own_tenants_job(tmp_path: Path) -> None:
    """a (quota 16) alone. X (8 GPUs, 10 h) at 0; Z (8, 1 h) at 1 h preempts X (9 h left): Z runs 1-2 h,
    X, with no checkpoint, runs its 10 h again from 2 h: it ends at 12 h (first start 0)."""
    rows = [(0, 8, 10 * H, 0, "a"), (H, 8, H, 0, "a")]
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": 16}}], nodes=1, scheduler="srtf")
    assert starts(r) == [(0, 0.0, 12.0 * H), (1, 1.0 * H, 2.0 * H)]
    assert list(r.jobs["preemptions"]) == [1, 0]


def test_no_preemption_of_a_job_that_would_preempt_back(tmp_path: Path) -> None:
    """a (quota 16), within_tenant lower_priority. X (8 GPUs, 10 h, priority 5) at 0; Z (8, 1 h, priority 0)
    at 1 h ranks first by srtf, but X, queued again, would preempt Z by priority: X is spared, Z runs 10-11 h."""
    rows = [(0, 8, 10 * H, 5, "a"), (H, 8, H, 0, "a")]
    rules = {"within_tenant": "lower_priority"}
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": 16}}], nodes=1, preemption=rules, scheduler="srtf")
    assert starts(r) == [(0, 0.0, 10.0 * H), (1, 10.0 * H, 11.0 * H)]
    assert list(r.jobs["preemptions"]) == [0, 0]


@pytest.mark.parametrize("scheduler", ["tiresias", "srtf", "las"])
@pytest.mark.parametrize(
    "preemption",
    [
        {"reclaim_within_cohort": "never", "within_tenant": "never"},
        {"reclaim_within_cohort": "lower_priority", "within_tenant": "lower_priority", "grace": "0s"},
        {"reclaim_within_cohort": "any", "within_tenant": "lower_or_newer_equal_priority"},
    ],
    ids=["none", "lower", "any"],
)
def test_the_tenants_scenario_completes_under_each_preemptive_order(scheduler: str, preemption: dict) -> None:
    """The regression scenario's three teams (a cohort, reclaim) under each order: it runs (each of these
    crashed with a RecursionError), and every job submitted is completed, failed, running or queued at the end."""
    data = yaml.safe_load(SCENARIO.read_text())
    data["policies"]["scheduler"] = scheduler
    data["preemption"] = preemption
    r = run_data(data)
    assert r.summary["jobs"]["completed"] > 50
    j = r.summary["jobs"]
    assert j["submitted"] == j["completed"] + j["failed"] + j["running_at_end"] + j["queued_at_end"]
