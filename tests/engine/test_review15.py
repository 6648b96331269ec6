"""Review of issue 15: each test demonstrates a finding (it fails on main as reviewed)."""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.engine import DataCenterModel

from conftest import build, run_data, tiny_data

H = 3600.0


def _elastic(name: str, at: float, tenant: str = "t") -> dict[str, Any]:
    return {"name": name, "tenant": tenant, "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 4,
            "duration": "8h", "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": "linear"}}  # fmt: skip


def _two_nodes(jobs: list[dict[str, Any]], tenants: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": jobs}, policies={"scheduler": "elastic"}, tenants=tenants, **top,
    )  # fmt: skip


def test_an_elastic_job_never_holds_more_than_its_tenants_quota() -> None:
    """Tenant t has a quota of 8 GPUs and no cohort; its elastic job (2-16 GPUs) is alone on 16 GPUs.

    Kueue admits a workload by the resources it requests: the job may hold at most 8 GPUs
    (start or grow). On main it starts on 16 (admission checks job.gpus = 4, not the placement).
    """
    model = DataCenterModel(build(_two_nodes([_elastic("a", 0.0)], [{"name": "t", "quota": {"gpus": 8}}],
                                             horizon="30m")))  # fmt: skip
    model.run()
    held = [sum(g for _, g in job.placement) for job in model.running_jobs.values()]
    assert held and max(held) <= 8
    assert model.tenancy.used[0][0] <= 8


def test_a_tenants_gpu_hours_count_the_gpus_its_elastic_jobs_held() -> None:
    """Elastic a (8 h at 4 GPUs, linear) alone on 16 GPUs runs at 16: done in 2 h, 32 GPU-hours.

    Over a 3 h window tenants.t.gpu_hours must be 32 (= utilization.gpu_allocated x 16 x 3 h); on main it is 8
    (the nominal 4 GPUs x 2 h), and the chargeback puts the rest in (unallocated).
    """
    r = run_data(_two_nodes([_elastic("a", 0.0)], [{"name": "t"}], horizon="3h"))
    assert r.jobs.finish_s[0] == pytest.approx(2 * H)
    assert r.summary["utilization"]["gpu_allocated"] == pytest.approx(32 / (16 * 3))
    assert r.summary["tenants"]["t"]["gpu_hours"] == pytest.approx(32.0)
