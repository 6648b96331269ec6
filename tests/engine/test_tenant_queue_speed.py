"""The tenant queue's shortcut keeps every decision: a job is queued without the tenants' merge (no one reads it)."""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.engine.dispatch import Dispatcher
from dcsim.engine.tenancy import TenantQueue

from conftest import run_data, tiny_data

QUOTAS = {"a": 12, "b": 10, "c": 10}  # the cluster's 32 GPUs, in one cohort: idle quota is borrowed


def tenants_data(scheduler: Any, fairness: str | None, preemption: dict[str, Any] | None = None) -> dict[str, Any]:
    """A loaded 32-GPU cluster (jobs of 1 to 16 GPUs, load about 0.95) split among three tenants."""
    rate = 0.95 * 32 / (4.5 * 3600) / len(QUOTAS)
    jobs = [
        {
            "name": f"j-{name}-{priority}",
            "tenant": name,
            "arrival": {"process": "poisson", "rate": rate * count / 80},
            "count": count,
            "gpus": {"values": [1, 2, 4, 8, 16], "weights": [4, 2, 2, 1, 1]},
            "duration": {"dist": "exponential", "mean": 3600},
            "priority": priority,
        }
        for name in QUOTAS
        for priority, count in ((0, 60), (1, 20))
    ]
    more: dict[str, Any] = {} if preemption is None else {"preemption": preemption}
    policies: dict[str, Any] = {"scheduler": scheduler, "placement": "first_fit"}
    if fairness is not None:
        policies["fairness"] = fairness
    return tiny_data(
        workload={"jobs": jobs},
        tenants=[{"name": n, "quota": {"gpus": q}, "cohort": "lab"} for n, q in QUOTAS.items()],
        policies=policies,
        **more,
    )


class LeastAttained:
    """A fairness plug-in: the tenant that has attained the least GPU-service goes first (it reads the sums)."""

    def __init__(self, params: Any, rng: Any) -> None:
        self.params = params

    def key(self, tenant: Any, now: float) -> float:
        """GPU-seconds attained so far."""
        return tenant.attained_gpu_s


def trace(result: Any) -> list[tuple]:
    """Every job's first start, finish and preemptions."""
    j = result.jobs
    return list(zip(j["job_id"], j["start_s"], j["finish_s"], j["preemptions"], strict=True))


@pytest.mark.parametrize(
    ("scheduler", "fairness", "preemption"),
    [
        ({"name": "fifo", "params": {"backfill": True}}, "drf", None),
        ({"name": "fifo", "params": {"backfill": True}}, "themis", {"reclaim_within_cohort": "any"}),
        ("fifo", "drf", None),
        ("easy_backfill", None, {"reclaim_within_cohort": "lower_priority"}),
        ({"name": "fifo", "params": {"backfill": True}}, "test_tenant_queue_speed:LeastAttained", None),
    ],
)
def test_queueing_without_the_merge_decides_the_same(
    scheduler: Any, fairness: str | None, preemption: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run whose dispatcher queues with ``add`` equals the one that reads the merge at each push, bit for bit."""
    firsts, queues = [0], []
    first, init = TenantQueue.first, TenantQueue.__init__

    def counted(self: TenantQueue) -> Any:
        firsts[0] += 1
        return first(self)

    def kept(self: TenantQueue, *args: Any) -> None:
        init(self, *args)
        queues.append(self)

    monkeypatch.setattr(TenantQueue, "first", counted)
    monkeypatch.setattr(TenantQueue, "__init__", kept)
    data = tenants_data(scheduler, fairness, preemption)
    fast = run_data(data)
    fast_firsts = firsts[0]
    assert fast.summary["jobs"]["completed"] == 240
    if preemption is not None:
        assert sum(fast.jobs["preemptions"]) > 0  # requeues go through the shortcut too
    monkeypatch.setattr(Dispatcher, "_push", lambda self, job: self.queue.push(self.key(job), job))
    firsts[0] = 0
    slow = run_data(data)
    assert firsts[0] >= fast_firsts + 240  # the merge was read at every push before
    assert trace(fast) == trace(slow)
    assert fast.summary == slow.summary
    # the shares' service sums were added up at the same instants: equal to the bit (what a plug-in reads)
    fast_shares, slow_shares = ([s.attained_gpu_s.hex() for s in q.tenancy.shares] for q in queues)
    assert fast_shares == slow_shares
