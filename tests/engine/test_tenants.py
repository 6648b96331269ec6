"""Tenants with Kueue's quotas: exact event traces of admission, borrowing, lending, reclaim and grace.

Every expected time is computed by hand in the test's docstring from the trace (8-GPU nodes,
fixed run times, no failures); none is read off a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcsim.engine import DataCenterModel
from dcsim.engine.tenancy import Tenancy

from conftest import build, run_data, tiny_data


def tenant_data(
    tmp_path: Path, rows: list[tuple], tenants: list[dict], nodes: int = 2, preemption: dict | None = None,
    scheduler: Any = "fifo", datacenter: dict | None = None,
) -> dict:  # fmt: skip
    """A trace of ``(submit_s, gpus, duration_s, priority, tenant)`` rows on ``nodes`` 8-GPU nodes."""
    lines = ["t,gpus,dur,prio,team"] + [",".join(str(v) for v in row) for row in rows]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    columns = {"submit_time": "t", "gpus": "gpus", "duration": "dur", "priority": "prio", "tenant": "team"}
    data = tiny_data(
        datacenter=datacenter or {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": nodes, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv", "columns": columns}},
        policies={"scheduler": scheduler, "placement": "first_fit"},
        tenants=tenants,
    )
    if preemption:
        data["preemption"] = preemption
    return data


def run(tmp_path: Path, *args: Any, **kwargs: Any):
    return run_data(tenant_data(tmp_path, *args, **kwargs), base_dir=str(tmp_path))


def starts(result) -> list[tuple[int, float, float]]:
    """(job id, first start, finish) per job, in job id order."""
    j = result.jobs
    return list(zip(j["job_id"], j["start_s"], j["finish_s"], strict=True))


TWO = [{"name": "a", "quota": {"gpus": 8}, "cohort": "lab"}, {"name": "b", "quota": {"gpus": 8}, "cohort": "lab"}]


def test_a_tenant_borrows_idle_quota_of_its_cohort_and_the_lender_waits_without_reclaim(tmp_path: Path) -> None:
    """a and b (8 GPUs each) share a cohort on 16 GPUs. a1, a2 (8 GPUs, 100 s) at 0: a2 borrows b's idle 8.

    b1 (8 GPUs, 50 s) at 10 finds the cohort's 16 in use and no reclaim: it starts at 100, ends 150.
    Borrowed: 8 GPUs x 100 s (a), lent: the same (b, the only lender). Window 0-150 s: a held
    16 x 100, b 8 x 50 GPU-s against quotas of 8 x 150 each: x = 4/3 and 1/3, Jain = (5/3)^2 / (2 (16/9 + 1/9)).
    """
    r = run(tmp_path, [(0, 8, 100, 0, "a"), (0, 8, 100, 0, "a"), (10, 8, 50, 0, "b")], TWO)
    assert starts(r) == [(0, 0.0, 100.0), (1, 0.0, 100.0), (2, 100.0, 150.0)]
    t = r.summary["tenants"]
    assert t["a"]["borrowed_gpu_hours"] == pytest.approx(8 * 100 / 3600)
    assert t["b"]["lent_gpu_hours"] == pytest.approx(8 * 100 / 3600)
    assert t["borrowed_gpu_hours"] == pytest.approx(8 * 100 / 3600)
    assert t["a"]["gpu_hours"] == pytest.approx(16 * 100 / 3600)
    assert t["b"]["quota_gpu_hours"] == pytest.approx(8 * 150 / 3600)
    assert t["jain_index"] == pytest.approx((5 / 3) ** 2 / (2 * (16 / 9 + 1 / 9)))
    assert t["a"]["mean_wait_s"] == 0.0 and t["b"]["mean_wait_s"] == 90.0
    table = r.data["tenants"].to_pandas().set_index("tenant")
    cost = r.summary["cost"]
    assert table.loc["a", "total_usd"] == pytest.approx((cost["capital_usd"] + cost["energy_usd"]) * 1600 / (16 * 150))


def test_without_a_cohort_a_tenant_never_borrows(tmp_path: Path) -> None:
    """The same jobs, no cohort: a2 waits for a1 (100-200) although 8 GPUs are idle; b1 starts at once (10-60)."""
    alone = [{"name": "a", "quota": {"gpus": 8}}, {"name": "b", "quota": {"gpus": 8}}]
    r = run(tmp_path, [(0, 8, 100, 0, "a"), (0, 8, 100, 0, "a"), (10, 8, 50, 0, "b")], alone)
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 200.0), (2, 10.0, 60.0)]
    assert r.summary["tenants"]["borrowed_gpu_hours"] == 0.0


def test_a_lending_limit_caps_what_the_cohort_borrows_and_later_jobs_are_not_blocked(tmp_path: Path) -> None:
    """b lends at most 4 of its 8: the cohort's pool is 8 (a) + 4 (b) = 12 and b keeps 4 for itself.

    a1 (8, 0-100) draws 8. a2 (8 GPUs) at 0 would draw 16 > 12: not admitted. a3 (4 GPUs) at 1
    draws 12: admitted past a2 (BestEffortFIFO), 1-101 on node 1. b1 (4 GPUs) at 10 is within its
    guaranteed 4: 10-60 beside a3. At 100 a1 ends: a draws 4, a2 brings it to 12: 100-200.
    """
    tenants = [TWO[0], {**TWO[1], "lending_limit": {"gpus": 4}}]
    rows = [(0, 8, 100, 0, "a"), (0, 8, 100, 0, "a"), (1, 4, 100, 0, "a"), (10, 4, 50, 0, "b")]
    r = run(tmp_path, rows, tenants)
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 200.0), (2, 1.0, 101.0), (3, 10.0, 60.0)]
    r = run(tmp_path, rows, TWO)  # without the limit a2 borrows all of b's 8 at once, and b1 waits
    assert starts(r)[:2] == [(0, 0.0, 100.0), (1, 0.0, 100.0)]


def test_reclaim_preempts_the_newest_borrowing_job_of_lower_priority(tmp_path: Path) -> None:
    """a1, a2 (8 GPUs, 1000 s, priority 0) at 0: a borrows b's 8. b1 (8 GPUs, 50 s, priority 5) at 100.

    b1 is within b's quota but the cohort is full: it reclaims. a1 and a2 tie on priority and
    work lost (100 s x 8 GPUs each, no checkpoints); the newest (a2, the higher id) goes at 100
    (reason quota) and b1 runs 100-150. a2 restarts from scratch at 150: done at 1150.
    """
    rows = [(0, 8, 1000, 0, "a"), (0, 8, 1000, 0, "a"), (100, 8, 50, 5, "b")]
    r = run(tmp_path, rows, TWO, preemption={"reclaim_within_cohort": "lower_priority"})
    assert starts(r) == [(0, 0.0, 1000.0), (1, 0.0, 1150.0), (2, 100.0, 150.0)]
    jobs = r.summary["jobs"]
    assert jobs["preemptions_by_reason"] == {"priority": 0, "quota": 1, "scale_up": 0}
    assert jobs["preempted_gpu_hours"] == pytest.approx(8 * 100 / 3600)
    assert r.summary["tenants"]["a"]["preemptions"] == 1
    r = run(tmp_path, rows, TWO)  # reclaim never (the default): b1 waits for a1, 1000-1050
    assert starts(r)[2] == (2, 1000.0, 1050.0)


def test_a_victim_keeps_its_gpus_for_the_grace_period_and_is_not_picked_twice(tmp_path: Path) -> None:
    """As above with grace 30 s, and b2 (8 GPUs, 50 s, priority 5) at 110.

    a2 is told at 100 and loses its GPUs at 130: b1 runs 130-180. b2 (at 110) is not b's head, and
    b1's head-of-line claim is covered by a2, already told: nothing more is preempted. At 180 b2
    (within b's quota) goes before a2 (which would borrow): b2 180-230, then a2 230-1230.
    """
    rows = [(0, 8, 1000, 0, "a"), (0, 8, 1000, 0, "a"), (100, 8, 50, 5, "b"), (110, 8, 50, 5, "b")]
    rules = {"reclaim_within_cohort": "lower_priority", "grace": "30s"}
    r = run(tmp_path, rows, TWO, preemption=rules)
    assert starts(r) == [(0, 0.0, 1000.0), (1, 0.0, 1230.0), (2, 130.0, 180.0), (3, 180.0, 230.0)]
    assert r.summary["jobs"]["preemptions"] == 1
    assert r.summary["jobs"]["preempted_gpu_hours"] == pytest.approx(8 * 130 / 3600)


def test_reclaim_takes_nothing_from_equal_priority_unless_any(tmp_path: Path) -> None:
    """b1 has priority 0, like a's jobs: lower_priority reclaims nothing (b1 1000-1050); any reclaims a2 at 100."""
    rows = [(0, 8, 1000, 0, "a"), (0, 8, 1000, 0, "a"), (100, 8, 50, 0, "b")]
    r = run(tmp_path, rows, TWO, preemption={"reclaim_within_cohort": "lower_priority"})
    assert starts(r)[2] == (2, 1000.0, 1050.0)
    r = run(tmp_path, rows, TWO, preemption={"reclaim_within_cohort": "any"})
    assert starts(r) == [(0, 0.0, 1000.0), (1, 0.0, 1150.0), (2, 100.0, 150.0)]


def test_within_tenant_a_job_at_the_quota_preempts_its_tenants_lower_priority_job(tmp_path: Path) -> None:
    """a (quota 8, no cohort) runs a1 (8 GPUs, 1000 s, priority 0); a2 (8, 50 s, priority 5) at 100.

    8 GPUs are idle but a is at its quota: a2 preempts a1 (reason priority), 100-150; a1 again 150-1150.
    """
    rows = [(0, 8, 1000, 0, "a"), (100, 8, 50, 5, "a")]
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": 8}}], preemption={"within_tenant": "lower_priority"})
    assert starts(r) == [(0, 0.0, 1150.0), (1, 100.0, 150.0)]
    assert r.summary["jobs"]["preemptions_by_reason"]["priority"] == 1


def test_lower_or_newer_equal_priority_preempts_a_newer_job_that_got_in_first(tmp_path: Path) -> None:
    """a (quota 8): a0 (4 GPUs, 0-100); a1 (8 GPUs) at 10 is not admitted (12 > 8); a2 (4 GPUs, 1000 s) at 20 is.

    At 100 a0 ends; a1 still needs a2's 4 of quota. a2 is newer, of equal priority: under
    lower_or_newer_equal_priority it goes at 100, a1 runs 100-150, a2 again 150-1150. Under
    lower_priority a1 waits for a2: 1020-1070.
    """
    rows = [(0, 4, 100, 0, "a"), (10, 8, 50, 0, "a"), (20, 4, 1000, 0, "a")]
    quota = [{"name": "a", "quota": {"gpus": 8}}]
    r = run(tmp_path, rows, quota, preemption={"within_tenant": "lower_or_newer_equal_priority"})
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 20.0, 1150.0)]
    r = run(tmp_path, rows, quota, preemption={"within_tenant": "lower_priority"})
    assert starts(r) == [(0, 0.0, 100.0), (1, 1020.0, 1070.0), (2, 20.0, 1020.0)]


def test_the_default_tenant_is_not_limited(tmp_path: Path) -> None:
    """a's quota is 8; jobs of no declared tenant (blank, and 'x' of the trace) take all 16 GPUs at once."""
    rows = [(0, 8, 100, 0, ""), (0, 8, 100, 0, "x"), (0, 8, 100, 0, "a")]
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": 8}}])
    assert starts(r) == [(0, 0.0, 100.0), (1, 0.0, 100.0), (2, 100.0, 200.0)]
    assert any("x" in note and "not limited" in note for note in r.summary["notes"])


def test_a_per_type_quota_sends_the_job_to_a_type_with_room(tmp_path: Path) -> None:
    """a has 8 H100 and 8 A100 of quota; 2 nodes of each. a1 takes H100 (first fit); a2 would fit on the
    second H100 node but a has no H100 room: it runs on A100. a3 has room on neither: 100-200."""
    dc = {"sites": [{"name": "dc1", "rack_groups": [
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100", "gpu_speed": 1}},
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "A100", "gpu_speed": 1}},
    ]}]}  # fmt: skip
    rows = [(0, 8, 100, 0, "a"), (0, 8, 100, 0, "a"), (0, 8, 100, 0, "a")]
    r = run(tmp_path, rows, [{"name": "a", "quota": {"gpus": {"H100": 8, "A100": 8}}}], datacenter=dc)
    assert starts(r) == [(0, 0.0, 100.0), (1, 0.0, 100.0), (2, 100.0, 200.0)]
    pools = r.jobs["pool"].tolist()
    types = [p.gpu_type for p in DataCenterModel(build(tenant_data(tmp_path, rows, [], datacenter=dc),
                                                          str(tmp_path))).topology.pools]  # fmt: skip
    assert [types[p] for p in pools[:2]] == ["H100", "A100"]


def test_tenants_without_quotas_change_nothing(tmp_path: Path) -> None:
    """Tenants declared without quotas (no fairness): the same jobs table as without a tenants block."""
    rng = np.random.default_rng(3)
    rows = [(int(t), int(g), int(d), 0, str(k)) for t, g, d, k in zip(
        np.sort(rng.integers(0, 2000, 60)), rng.choice([1, 2, 4, 8], 60), rng.integers(50, 500, 60),
        rng.choice(["a", "b"], 60), strict=True)]  # fmt: skip
    for scheduler in ("fifo", {"name": "fifo", "params": {"backfill": True}}):
        plain = run(tmp_path, rows, [], scheduler=scheduler).jobs
        labelled = run(tmp_path, rows, [{"name": "a"}, {"name": "b"}], scheduler=scheduler).jobs
        assert starts_of(plain) == starts_of(labelled)


def starts_of(jobs) -> list[tuple[float, float]]:
    return list(zip(jobs["start_s"], jobs["finish_s"], strict=True))


def test_priorities_never_invert_and_quotas_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random traces, three tenants in a cohort, both preemption rules at lower_priority, strict and backfill.

    Every victim a blocked job picks has a lower priority than it; after every start no tenant
    exceeds quota + borrowing limit, and the cohort's draws stay within its pool.
    """
    picked: list[tuple[int, list[int]]] = []
    checked = [0]
    real_victims, real_started = Tenancy.victims, Tenancy.started

    def victims(self: Tenancy, job: Any, *args: Any) -> Any:
        out = real_victims(self, job, *args)
        picked.append((job.priority, [v.priority for v, _ in out]))
        return out

    def started(self: Tenancy, job: Any) -> None:
        real_started(self, job)
        for i in range(len(self.shares)):
            for k in self.res[i]:
                assert self.used[i][k] <= self.nominal[i][k] + self.borrow[i][k]
        for c, pool in enumerate(self.pool):
            assert self.drawn[c][0] <= pool[0] + 1e-9
        checked[0] += 1

    monkeypatch.setattr(Tenancy, "victims", victims)
    monkeypatch.setattr(Tenancy, "started", started)
    tenants = [
        {"name": "a", "quota": {"gpus": 8}, "cohort": "c", "borrowing_limit": {"gpus": 8}},
        {"name": "b", "quota": {"gpus": 8}, "cohort": "c", "lending_limit": {"gpus": 4}},
        {"name": "c", "quota": {"gpus": 8}, "cohort": "c"},
    ]
    rules = {"reclaim_within_cohort": "lower_priority", "within_tenant": "lower_priority"}
    for seed in range(4):
        rng = np.random.default_rng(seed)
        n = 40
        rows = [(int(t), int(g), int(d), int(p), str(k)) for t, g, d, p, k in zip(
            np.sort(rng.integers(0, 3000, n)), rng.choice([1, 2, 4, 8], n), rng.integers(50, 600, n),
            rng.integers(0, 4, n), rng.choice(["a", "b", "c"], n), strict=True)]  # fmt: skip
        scheduler = "fifo" if seed % 2 else {"name": "priority", "params": {"backfill": True}}
        r = run(tmp_path, rows, tenants, nodes=3, preemption=rules, scheduler=scheduler)
        assert r.summary["jobs"]["completed"] == n
    assert checked[0] > 4 * 40
    chosen = [(p, v) for p, v in picked if v]
    assert chosen, "some blocked job preempted"
    assert all(max(v) < p for p, v in chosen)


def test_lending_is_attributed_to_the_idle_lenders_in_proportion_to_their_unused_quota(tmp_path: Path) -> None:
    """a (quota 4), b (8) and c (4) in a cohort on 16 GPUs; a1 takes 12 GPUs for 100 s, borrowing 8.

    b and c leave 8 and 4 lendable unused: b lent 8 x 8/12 x 100 GPU-s, c 8 x 4/12 x 100.
    """
    tenants = [{"name": n, "quota": {"gpus": q}, "cohort": "lab"} for n, q in (("a", 4), ("b", 8), ("c", 4))]
    r = run(tmp_path, [(0, 12, 100, 0, "a")], tenants)
    t = r.summary["tenants"]
    assert starts(r) == [(0, 0.0, 100.0)]
    assert t["a"]["borrowed_gpu_hours"] == pytest.approx(8 * 100 / 3600)
    assert t["b"]["lent_gpu_hours"] == pytest.approx(8 * 8 / 12 * 100 / 3600)
    assert t["c"]["lent_gpu_hours"] == pytest.approx(8 * 4 / 12 * 100 / 3600)


def test_the_fairness_policy_offers_the_tenant_holding_least_first(tmp_path: Path) -> None:
    """2 nodes; a1 (8 GPUs, 0-1000) and a2 (8, 0-100) run; a3 (8) at 5 and b1 (8) at 10 wait.

    At 100, under weighted_fair_share, a holds 8 and b none: b1 goes first (100-200), a3 at
    200-300. Without a fairness policy the scheduler's order holds: a3 100-200, b1 200-300.
    """
    rows = [(0, 8, 1000, 0, "a"), (0, 8, 100, 0, "a"), (5, 8, 100, 0, "a"), (10, 8, 100, 0, "b")]
    tenants = [{"name": "a"}, {"name": "b"}]
    data = tenant_data(tmp_path, rows, tenants)
    plain = run_data(data, base_dir=str(tmp_path))
    assert starts(plain)[2:] == [(2, 100.0, 200.0), (3, 200.0, 300.0)]
    data["policies"]["fairness"] = "weighted_fair_share"
    fair = run_data(data, base_dir=str(tmp_path))
    assert starts(fair)[2:] == [(2, 200.0, 300.0), (3, 100.0, 200.0)]
    assert fair.summary["run"]["fairness"] == "weighted_fair_share"


def test_the_shares_follow_usage_attained_service_work_left_and_first_submission(tmp_path: Path) -> None:
    """a1 (8 GPUs, 100 s) at 0 and a2 (8 GPUs, 100 s) at 50, one node: a2 runs 100-200.

    At 150: a holds 8; attained 8 x 150 GPU-s; work left 8 x 50 (a2's declared 100 s less the 50
    s done) of 8 x 100 in all; first unfinished submission 50 (a1 is done); nothing queued; one
    tenant with unfinished work.
    """
    data = tenant_data(tmp_path, [(0, 8, 100, 0, "a"), (50, 8, 100, 0, "a")], [{"name": "a"}], nodes=1)
    data["horizon"] = "150s"
    model = DataCenterModel(build(data, str(tmp_path)))
    model.run()
    share = model.tenancy.refresh()[0]
    assert share.used["gpus"] == 8
    assert share.attained_gpu_s == pytest.approx(8 * 150)
    assert share.work_left_gpu_s == pytest.approx(8 * 50)
    assert share.first_submit_s == 50.0
    assert share.queued_gpus == 0
    assert share.work_gpu_s == pytest.approx(8 * 100)
    assert share.contending == 1


def test_grace_holds_for_a_schedulers_preemption_too(tmp_path: Path) -> None:
    """No tenants; a preempting plug-in scheduler, grace 30 s. low (8 GPUs, 10 h) runs from 0; high (8, 2 h,
    priority 5) comes at 3 h: low is told then and keeps its GPUs to 3 h + 30 s, when high starts (to 5 h + 30 s).
    low, without checkpoints, runs its 10 h again from there: done at 15 h + 30 s."""
    h = 3600
    rows = [(0, 8, 10 * h, 0, ""), (3 * h, 8, 2 * h, 5, "")]
    r = run(
        tmp_path, rows, [], nodes=1, preemption={"grace": "30s"}, scheduler="plugins.toy_policies:PreemptLowerPriority"
    )
    assert starts(r) == [(0, 0.0, 15 * h + 30.0), (1, 3 * h + 30.0, 5 * h + 30.0)]
    assert r.summary["jobs"]["preemptions"] == 1


def test_a_start_on_the_gpus_of_a_victim_in_its_grace_waits_for_them(tmp_path: Path) -> None:
    """gavel preempts and starts in one decision; with grace 60 s the start waits for the victim's GPUs.

    One 8-GPU node, rounds of 360 s, save on_preemption. j0 (8 GPUs, 1000 s) runs from 0; j1 (8 GPUs,
    100 s) at 10. At the round at 360 gavel gives the node to j1 (max-min: the one that has had none)
    and preempts j0: j0 keeps its GPUs to 420, when j1 starts (the pass after the grace), to 520.
    """
    rows = [(0, 8, 1000, 0, ""), (10, 8, 100, 0, "")]
    rules = {"grace": "60s", "save": "on_preemption"}
    r = run(tmp_path, rows, [], nodes=1, preemption=rules, scheduler={"name": "gavel", "params": {"round": "6m"}})
    assert starts(r)[1] == (1, 420.0, 520.0)


def test_a_tenants_usage_follows_the_resizes_of_its_elastic_jobs() -> None:
    """Elastic a (2-16 GPUs) takes all 16 GPUs at 0; a2 (same) at 1 h makes it shrink to 14 and gets 2.

    Stopped at 90 min: tenant t holds 14 + 2 = 16 GPUs, as the placements do; it has held 16 GPUs
    throughout, 16 x 5400 GPU-s attained.
    """

    def elastic(name: str, at: float) -> dict:
        return {"name": name, "tenant": "t", "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 4,
                "duration": "8h", "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": "linear"}}  # fmt: skip

    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": [elastic("a", 0.0), elastic("a2", 3600.0)]}, policies={"scheduler": "elastic"},
        tenants=[{"name": "t"}], horizon="90m",
    )  # fmt: skip
    model = DataCenterModel(build(data))
    model.run()
    held = sorted(sum(g for _, g in job.placement) for job in model.running_jobs.values())
    assert held == [2, 14]
    share = model.tenancy.refresh()[0]
    assert model.tenancy.used[0][0] == 16 and share.used["gpus"] == 16
    assert share.attained_gpu_s == pytest.approx(16 * 5400)
