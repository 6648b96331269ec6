"""Tenancy fixes of review 15 beyond the review's own tests: elastic grows, reclaim by a later job, priority order."""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.engine import DataCenterModel

from conftest import build, run_data, tiny_data

H = 3600.0


def _job(name: str, at: float, gpus: int, dur: str, tenant: str | None = None, prio: int = 0) -> dict[str, Any]:
    out = {"name": name, "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": gpus, "duration": dur,
           "priority": prio}  # fmt: skip
    if tenant:
        out["tenant"] = tenant
    return out


def _two_nodes(jobs: list[dict[str, Any]], tenants: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": jobs}, tenants=tenants, **top,
    )  # fmt: skip


def test_an_elastic_job_grows_into_borrowed_quota_and_no_further() -> None:
    """16 GPUs. Default-tenant b holds 8 for 1 h; t's elastic a (2-16 GPUs) starts at 0 on the 8 free.

    t (quota 8, cohort c, borrowing_limit 4) may hold 12: u (quota 8, idle, same cohort) lends
    all of its 8. When b ends at 1 h the free 8 would grow a to 16; the grow is cut to the room:
    a holds 12 (4 of them borrowed).
    """
    elastic = {**_job("a", 0.0, 4, "8h", "t"), "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": "linear"}}
    tenants = [{"name": "t", "quota": {"gpus": 8}, "borrowing_limit": {"gpus": 4}, "cohort": "c"},
               {"name": "u", "quota": {"gpus": 8}, "cohort": "c"}]  # fmt: skip
    data = _two_nodes([_job("b", 0.0, 8, "1h"), elastic], tenants, policies={"scheduler": "elastic"}, horizon="2h")
    model = DataCenterModel(build(data))
    model.run()
    (a,) = [j for j in model.running_jobs.values() if j.job_class == "a"]
    assert sum(g for _, g in a.placement) == 12
    assert model.tenancy.used[0][0] == 12
    assert model.tenancy.borrows(a) and model.tenancy.room(0, 0) == 0


def test_a_later_job_within_its_quota_reclaims_when_the_head_would_borrow() -> None:
    """16 GPUs; a and b (quota 8 each) in cohort c, reclaim any. b1 (16 GPUs, 5 h) borrows a's 8 at 0.

    a's head a_big (16 GPUs, 10 min) would borrow, so it may not reclaim; a_small (8 GPUs, 20 min)
    is within a's quota and reclaims b1 at 20 min (a_big waits: it still needs b's 8).
    """
    tenants = [{"name": "a", "quota": {"gpus": 8}, "cohort": "c"}, {"name": "b", "quota": {"gpus": 8}, "cohort": "c"}]
    jobs = [_job("b1", 0.0, 16, "5h", "b"), _job("a_big", 600.0, 16, "1h", "a"), _job("a_small", 1200.0, 8, "1h", "a")]
    data = _two_nodes(jobs, tenants, preemption={"reclaim_within_cohort": "any"}, horizon="1d")
    j = run_data(data).jobs
    small = j[j["job_class"] == "a_small"].iloc[0]
    assert small["start_s"] == pytest.approx(1200.0)


def test_a_preempted_job_does_not_restart_ahead_of_a_queued_job_of_higher_priority() -> None:
    """16 GPUs. Default-tenant d holds 8 until 2 h. Tenant a (quota 16), within_tenant lower_priority, fifo.

    lo (8 GPUs, prio 0) runs from 0; hi1 (prio 9) at 1 h preempts it; hi2 (prio 9) at 1 h + 1 s
    finds no victim (hi1 is not of lower priority) and waits. At 2 h d's 8 GPUs free: in
    priority order hi2 takes them (in fifo order lo would, and hi2 would preempt it a second time).
    """
    jobs = [_job("d", 0.0, 8, "2h"), _job("lo", 0.0, 8, "10h", "a"), _job("hi1", H, 8, "3h", "a", 9),
            _job("hi2", H + 1.0, 8, "3h", "a", 9)]  # fmt: skip
    data = _two_nodes(jobs, [{"name": "a", "quota": {"gpus": 16}}], preemption={"within_tenant": "lower_priority"},
                      horizon="1d")  # fmt: skip
    r = run_data(data)
    j = r.jobs
    assert j[j["job_class"] == "hi2"].iloc[0]["start_s"] == pytest.approx(2 * H)
    assert r.summary["jobs"]["preemptions"] == 1


def test_the_gpus_of_a_claimants_victims_in_their_grace_wait_for_all_of_them() -> None:
    """8 GPUs, tenant a (quota 8), within_tenant lower_priority, grace 1 min, fifo with backfill.

    lo1 and lo2 (4 GPUs each, prio 0) run from 0; hi (8 GPUs, prio 9) at 1 h tells both to go.
    Their graces end at 1 h + 60 s: hi starts then. (Were the first victim's GPUs offered to the
    queue before the second's grace ended, backfill would restart that victim on them and hi
    would wait; in the review's golden run it was preempted again and again.)
    """
    jobs = [_job("lo1", 0.0, 4, "10h", "a"), _job("lo2", 0.0, 4, "10h", "a"), _job("hi", H, 8, "1h", "a", 9)]
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"jobs": jobs}, tenants=[{"name": "a", "quota": {"gpus": 8}}],
        preemption={"within_tenant": "lower_priority", "grace": "1m"},
        policies={"scheduler": {"name": "fifo", "params": {"backfill": True}}}, horizon="1d",
    )  # fmt: skip
    r = run_data(data)
    j = r.jobs
    assert j[j["job_class"] == "hi"].iloc[0]["start_s"] == pytest.approx(H + 60.0)
    assert r.summary["jobs"]["preemptions"] == 2


@pytest.mark.parametrize(("scheduler", "noted"), [("fifo", True), ("srtf", False)])
def test_a_grace_with_nothing_that_preempts_is_noted_by_validate_and_once_by_the_run(
    tmp_path: Any, capsys: Any, scheduler: str, noted: bool
) -> None:
    """preemption.grace without preemption rules: under fifo nothing preempts (a note, in validate and the run,
    once); srtf preempts (no note).
    """
    import yaml

    from dcsim.cli import main

    data = tiny_data(preemption={"grace": "2m"}, policies={"scheduler": scheduler}, horizon="2h")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert ("preemption.grace changes nothing" in capsys.readouterr().out) is noted
    notes = run_data(data).summary.get("notes") or []
    assert sum("preemption.grace" in n for n in notes) == int(noted)
