"""Tiresias' shortcuts keep its decisions: wake-ups only at crossings a queued job can act on; no double start."""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.policies import zoo

from conftest import run_data, tiny_data


def busy_data(params: dict[str, Any], jobs: int = 400) -> dict[str, Any]:
    """A loaded 32-GPU cluster (jobs of 1 to 16 GPUs, load about 0.95) under Tiresias with ``params``."""
    return tiny_data(
        workload={
            "jobs": [
                {
                    "name": "j",
                    "arrival": {"process": "poisson", "rate": 0.95 * 32 / (4.5 * 3600)},
                    "count": jobs,
                    "gpus": {"values": [1, 2, 4, 8, 16], "weights": [4, 2, 2, 1, 1]},
                    "duration": {"dist": "exponential", "mean": 3600},
                }
            ]
        },
        policies={"scheduler": {"name": "tiresias", "params": params}, "placement": "first_fit"},
        preemption={"save": "on_preemption"},
    )


def trace(result: Any) -> list[tuple]:
    """Every job's first start, finish and preemptions."""
    j = result.jobs
    return list(zip(j["job_id"], j["start_s"], j["finish_s"], j["preemptions"], strict=True))


@pytest.mark.parametrize(
    "params",
    [
        {"thresholds_gpu_h": [1.0], "starve_limit": 0},
        {"thresholds_gpu_h": [0.2, 2.0, 8.0], "starve_limit": 0},
        # promotion on (the default starve_limit 8): a crossing out of a queue above every queued job still
        # wakes the scheduler when the job may go on to cross out of the highest queued job's queue
        {"thresholds_gpu_h": [0.2, 2.0, 8.0]},
        {"thresholds_gpu_h": [1.0]},  # the defaults: two queues
        {"thresholds_gpu_h": [0.5, 4.0, 20.0], "starve_limit": 1.5},  # many promotions
    ],
)
def test_wakeups_only_at_crossings_that_matter_decide_the_same(
    params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run with the shortcut equals the one where every crossing wakes the scheduler for a full pass."""
    passes = [0]
    full_pass = zoo.Tiresias._pass

    def counted(self: zoo.Tiresias, *args: Any) -> Any:
        passes[0] += 1
        return full_pass(self, *args)

    monkeypatch.setattr(zoo.Tiresias, "_pass", counted)
    fast = run_data(busy_data(params))
    fast_passes, passes[0] = passes[0], 0
    assert sum(fast.jobs["preemptions"]) > 20  # crossings make victims
    monkeypatch.setattr(zoo.Tiresias, "_top_queued", lambda self, queue: None)  # every crossing wakes, no skip
    slow = run_data(busy_data(params))
    assert fast_passes < passes[0]  # the shortcut skipped passes
    assert trace(fast) == trace(slow)
    assert fast.summary == slow.summary


def test_a_promoted_job_is_not_started_twice() -> None:
    """A promoted job already among its class's heads is offered once (it was started twice, and the queue broke)."""
    result = run_data(busy_data({"thresholds_gpu_h": [0.5, 4.0, 20.0], "starve_limit": 1.5}, jobs=300))
    assert result.summary["jobs"]["completed"] == 300
