"""Review of issue 15: each test demonstrates a finding (it fails on main as reviewed)."""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.engine import DataCenterModel

from conftest import build, elastic_tenant_class, run_data, tiny_data, two_nodes_elastic

H = 3600.0


def test_an_elastic_job_never_holds_more_than_its_tenants_quota() -> None:
    """Tenant t has a quota of 8 GPUs and no cohort; its elastic job (2-16 GPUs) is alone on 16 GPUs.

    Kueue admits a workload by the resources it requests: the job may hold at most 8 GPUs
    (start or grow). On main it starts on 16 (admission checks job.gpus = 4, not the placement).
    """
    data = two_nodes_elastic([elastic_tenant_class("a", 0.0)], [{"name": "t", "quota": {"gpus": 8}}], horizon="30m")
    model = DataCenterModel(build(data))
    model.run()
    held = [sum(g for _, g in job.placement) for job in model.running_jobs.values()]
    assert held and max(held) <= 8
    assert model.tenancy.used[0][0] <= 8


def test_a_tenants_gpu_hours_count_the_gpus_its_elastic_jobs_held() -> None:
    """Elastic a (8 h at 4 GPUs, linear) alone on 16 GPUs runs at 16: done in 2 h, 32 GPU-hours.

    Over a 3 h window tenants.t.gpu_hours must be 32 (= utilization.gpu_allocated x 16 x 3 h); on main it is 8
    (the nominal 4 GPUs x 2 h), and the chargeback puts the rest in (unallocated).
    """
    r = run_data(two_nodes_elastic([elastic_tenant_class("a", 0.0)], [{"name": "t"}], horizon="3h"))
    assert r.jobs.finish_s[0] == pytest.approx(2 * H)
    assert r.summary["utilization"]["gpu_allocated"] == pytest.approx(32 / (16 * 3))
    assert r.summary["tenants"]["t"]["gpu_hours"] == pytest.approx(32.0)


def test_a_results_directory_of_a_tenants_run_is_replaced_by_the_next_run(tmp_path: Any) -> None:
    """`dcsim run --help`: "an earlier run there is replaced". A tenants run writes tenants.parquet,
    which results.RUN_FILES does not list: the second run into the same --out exits 2.
    """
    import yaml

    from dcsim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_data(tenants=[{"name": "a", "quota": {"gpus": 8}}])), encoding="utf-8")
    out = str(tmp_path / "out")
    assert main(["run", str(path), "--out", out]) == 0
    assert (tmp_path / "out" / "tenants.parquet").exists()
    assert main(["run", str(path), "--out", out]) == 0


def test_within_tenant_preemption_of_a_tenant_without_quota_preempts_or_is_refused(tmp_path: Any) -> None:
    """Tenant a (no quota) runs lo (8 GPUs, 5 h, priority 0) on the only 8 GPUs; hi (priority 9) comes at 1 h.

    preemption.within_tenant: lower_priority validates, yet hi waits for lo's end at 5 h: the
    rule does nothing for a tenant without a quota (candidates() needs res[i]), with no note.
    Either hi preempts lo at 1 h, or the scenario is refused (exit 2) / noted.
    """
    import yaml

    from dcsim.cli import main

    def job(name: str, at: float, dur: str, prio: int) -> dict[str, Any]:
        return {"name": name, "tenant": "a", "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 8,
                "duration": dur, "priority": prio}  # fmt: skip

    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"jobs": [job("lo", 0.0, "5h", 0), job("hi", H, "1h", 9)]},
        tenants=[{"name": "a"}], preemption={"within_tenant": "lower_priority"}, horizon="1d",
    )  # fmt: skip
    r = run_data(data)
    if r.jobs.start_s[1] == pytest.approx(H):
        return
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code = main(["run", str(path), "--out", str(tmp_path / "o")])
    notes = " ".join(r.summary.get("notes") or [])
    assert code == 2 or "within_tenant" in notes


def test_the_chargeback_charges_a_services_replicas_to_its_tenant_not_to_unallocated() -> None:
    """A service of tenant s holds 1 replica of 8 GPUs the whole window; no training jobs run.

    Allocated GPU-hours are 8 x hours; the chargeback puts all of them in (unallocated) and
    charges tenant s $0 (the note says replicas are not held to quotas, not that they are free).
    """
    service = {
        "name": "svc", "tenant": "s", "model": {"name": "m", "size": "10GB"}, "gpus_per_replica": 8, "cold_start": "1m",
        "replicas": {"min": 1, "max": 1, "initial": 1},
        "requests": {"arrival": {"process": "poisson", "rate": "1/s"}, "input_tokens": 10, "output_tokens": 10},
        "service_model": {"prefill": "20000/s", "decode": {"per_token": "1ms", "max_batch": 8}},
    }  # fmt: skip
    data = tiny_data(services=[service], tenants=[{"name": "s", "quota": {"gpus": 8}}], horizon="1h",
                     workload={"jobs": []})  # fmt: skip
    r = run_data(data)
    allocated_h = r.summary["utilization"]["gpu_allocated"] * 32 * 1.0
    assert allocated_h > 7.0
    assert r.summary["tenants"]["s"]["gpu_hours"] == pytest.approx(allocated_h, rel=0.05)


@pytest.mark.parametrize("scheduler", ["fifo", "easy_backfill"])
def test_a_high_priority_job_behind_a_blocked_low_priority_head_preempts(scheduler: str) -> None:
    """Tenant a (quota 8), 8 GPUs: lo1 (8 GPUs, 5 h, prio 0) at 0, lo2 (same) at 10 min, hi (prio 9, 1 h) at 1 h.

    within_tenant: lower_priority. Kueue orders a ClusterQueue by priority, then creation: hi is
    the head and preempts lo1 at 1 h (ends at 2 h). On main only the tenant's first queued job
    in the scheduler's order (lo2, which may not preempt lo1) looks for victims: hi waits until
    lo1 ends at 5 h, then lo2 starts and is preempted at once by hi (a priority inversion of 4 h).
    """

    def job(name: str, at: float, dur: str, prio: int) -> dict[str, Any]:
        return {"name": name, "tenant": "a", "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 8,
                "duration": dur, "priority": prio}  # fmt: skip

    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"jobs": [job("lo1", 0.0, "5h", 0), job("lo2", 600.0, "5h", 0), job("hi", H, "1h", 9)]},
        tenants=[{"name": "a", "quota": {"gpus": 8}}], preemption={"within_tenant": "lower_priority"},
        policies={"scheduler": scheduler}, horizon="1d",
    )  # fmt: skip
    j = run_data(data).jobs
    hi = j[j["job_class"] == "hi"].iloc[0]
    assert hi["start_s"] == pytest.approx(H)


def test_a_job_larger_than_a_per_type_quota_is_refused_as_one_larger_than_a_total_quota(tmp_path: Any) -> None:
    """quota {gpus: 8} with a 16-GPU class exits 2 naming workload.jobs.0.gpus; quota {gpus: {H100: 8}} on an
    all-H100 fleet validates and the jobs wait for ever (tenant_checks skips per-type quotas).
    """
    import yaml

    from dcsim.cli import main

    def code(quota: Any) -> int:
        job = {"name": "big", "tenant": "a", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16,
               "duration": "1h"}  # fmt: skip
        data = tiny_data(tenants=[{"name": "a", "quota": {"gpus": quota}}], workload={"jobs": [job]})
        data["datacenter"]["sites"][0]["node"]["gpu_type"] = "H100"
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return main(["validate", str(path)])

    assert code(8) == 2
    assert code({"H100": 8}) == 2


@pytest.mark.parametrize(
    ("tenants", "top", "field"),
    [
        (
            [{"name": "a", "quota": {"gpus": 4}}, {"name": "b", "quota": {"gpus": 4}}],
            {"preemption": {"reclaim_within_cohort": "any"}},
            "reclaim_within_cohort",
        ),  # no cohort: nothing to reclaim
        (
            [{"name": "a", "quota": {"gpus": 4}, "weight": 5}, {"name": "b", "quota": {"gpus": 4}}],
            {"policies": {"scheduler": "fifo", "fairness": "themis"}},
            "weight",
        ),  # themis reads no weight
        (
            [{"name": "a", "quota": {"gpus": 4}, "weight": 5}, {"name": "b", "quota": {"gpus": 4}}],
            {},
            "weight",
        ),  # no fairness policy: nothing reads the weight
        (
            [{"name": "a", "cohort": "c"}, {"name": "b", "quota": {"gpus": 4}, "cohort": "c"}],
            {},
            "cohort",
        ),  # a tenant without quota is alone whatever its cohort
    ],
)
def test_a_tenants_field_that_changes_nothing_is_refused_or_noted(
    tmp_path: Any, tenants: list[dict[str, Any]], top: dict[str, Any], field: str
) -> None:
    """Common rules: a block that validates but does nothing is a bug (refuse it, or at least a note)."""
    import yaml

    from dcsim.cli import main

    data = tiny_data(tenants=tenants, horizon="2h", **top)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    if main(["validate", str(path)]) == 2:
        return
    notes = " ".join(run_data(data).summary.get("notes") or [])
    assert field in notes, notes


@pytest.mark.parametrize("scheduler", ["easy_backfill", "conservative_backfill"])
def test_an_easy_backfill_start_never_delays_the_heads_reservation_through_its_tenants_quota(scheduler: str) -> None:
    """16 GPUs (2 nodes of 8). Default tenant: x (8 GPUs, 100 s) and y (4 GPUs, 1000 s) at 0.

    Tenant a (quota 8, no cohort): a1 (8 GPUs, 100 s) at 1 s does not fit (4 free): reservation at
    x's end, 100 s, with 4 extra GPUs. a2 (4 GPUs, 1000 s) at 2 s fits beside it on the extra GPUs
    by count, but it takes half of a's quota: at 100 s a1 (8) is not admitted (4 + 8 > 8) and waits
    for a2's end (1002 s). EASY's promise (no start out of order delays the head) needs the
    backfill check to count the head's tenant's room too: a1 must start at 100 s.
    """

    def job(name: str, at: float, gpus: int, dur: str, tenant: str | None = None) -> dict[str, Any]:
        out = {"name": name, "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": gpus, "duration": dur}
        if tenant:
            out["tenant"] = tenant
        return out

    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": [job("x", 0.0, 8, "100s"), job("y", 0.0, 4, "1000s"), job("a1", 1.0, 8, "100s", "a"),
                           job("a2", 2.0, 4, "1000s", "a")]},
        tenants=[{"name": "a", "quota": {"gpus": 8}}],
        policies={"scheduler": scheduler, "placement": "first_fit"}, horizon="1h",
    )  # fmt: skip
    j = run_data(data).jobs
    a1 = j[j["job_class"] == "a1"].iloc[0]
    assert a1["start_s"] == pytest.approx(100.0)
