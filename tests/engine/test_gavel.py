"""The ``gavel`` scheduler in the engine: exact traces worked by hand, and Gavel against fifo.

Gavel's rule (dcsim/policies/gavel.py): at each round (360 s here), the pairs (job, pool) go by
priority = allocation / (share of its active rounds the job ran there), infinite for a pair not
run yet; ties: the job running there, then the larger allocation, the earlier submission, the
lower id. Jobs have no checkpointing and ``preemption.save: on_preemption``: a preempted job
resumes where it stopped (preempt-resume), as Gavel's simulator assumes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dcsim.cli import main

from conftest import run_data, tiny_data

ROUND = 360.0


def pools(*groups: tuple[str, int], **top: Any) -> dict[str, Any]:
    """One site, one rack group per (GPU type, GPUs of its one node), in order; gavel with first-fit placement."""
    top.setdefault("policies", {"scheduler": "gavel", "placement": "first_fit"})
    top.setdefault("preemption", {"save": "on_preemption"})
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": g, "gpu_type": t, "gpu_speed": 1.0}} for t, g in groups
        ]}]},
        **top,
    )  # fmt: skip


def batch(name: str, gpus: int, duration: str, count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "arrival": {"process": "batch", "at": 0}, "count": count, "gpus": gpus,
            "duration": duration, **extra}  # fmt: skip


def test_two_jobs_on_one_gpu_time_share_it_round_by_round_without_losing_work() -> None:
    """Two 50-min jobs, one GPU: each gets half of it. By the rule, rounds go J0; J1 J1; J0 J0; J1 J1; ...
    (r1: J0's priority 0.5 / 1, J1's infinite; r2: both 0.5 / (1/2) = 1, J1 runs, so it stays; r3: J0 at
    0.5 / (1/3) = 1.5 beats J1's 0.5 / (2/3)). J0 runs r0, r3-r4, r7-r8, r11-r12, r15-r16: 360 + 4 x 720 =
    3240 s > 3000 s, so it ends 120 s into r16, at 16 x 360 + 120 = 5880 s; J1 has had r1-r2, ..., r13-r14
    (4 x 720 = 2880 s), starts at once and ends 120 s later, at 6000 s = 2 x 3000 s: no work is lost.
    Each switch preempts one job: at r1, r3, ..., r15, 8 preemptions."""
    result = run_data(pools(("H100", 1), workload={"jobs": [batch("j", 1, "50m", count=2)]}, horizon="1d"))
    jobs = result.jobs
    assert jobs["finish_s"].tolist() == pytest.approx([16 * ROUND + 120, 2 * 3000.0])
    assert jobs["preemptions"].sum() == 8 == result.summary["jobs"]["preemptions"]
    assert result.summary["jobs"]["preempted_gpu_hours"] == 0.0


def test_jobs_go_to_the_gpus_they_run_fast_on_and_stay_there() -> None:
    """Job a runs at 1 on H100 and 0.25 on A100, job b the other way round; A100 is listed first, so first fit
    (fifo) starts a there and b on the H100: both run at 0.25, 4 x 10 h. Gavel's allocation is a -> H100,
    b -> A100 all the time (each at 1: normalised 1 / (1/2 x (1 + 0.25)) = 1.6); a job allocated all of
    its pool is never preempted, so both end at 10 h."""
    jobs = [batch("a", 8, "10h", speed={"A100": 0.25, "H100": 1.0}),
            batch("b", 8, "10h", speed={"A100": 1.0, "H100": 0.25})]  # fmt: skip
    gavel = run_data(pools(("A100", 8), ("H100", 8), workload={"jobs": jobs}, horizon="3d"))
    fifo = run_data(pools(("A100", 8), ("H100", 8), workload={"jobs": jobs}, horizon="3d",
                          policies={"scheduler": "fifo", "placement": "first_fit"}))  # fmt: skip
    assert gavel.jobs["finish_s"].tolist() == [10 * 3600.0] * 2
    assert gavel.jobs["gpu_type"].astype(str).tolist() == ["H100", "A100"]
    assert gavel.summary["jobs"]["preemptions"] == 0
    assert fifo.jobs["finish_s"].tolist() == pytest.approx([10 * 3600.0 / 0.25] * 2)


SPEED = {"sensitive": 0.25, "insensitive": 1.0}
"""Each class's speed on A100 (1 on H100): one loses 4x on the slow GPUs, the other nothing."""


def mixed(scheduler: str, seed: int) -> dict[str, Any]:
    """12 jobs of each class, Poisson at 1/h each, exponential 90 min, 4 GPUs; an A100 node (listed first), an H100."""
    jobs = [{"name": c, "arrival": {"process": "poisson", "rate": "1/h"}, "count": 12, "gpus": 4,
             "duration": {"dist": "exponential", "mean": "90m"}, "speed": {"A100": s}}
            for c, s in SPEED.items()]  # fmt: skip
    return pools(("A100", 8), ("H100", 8), seed=seed, horizon="10d", workload={"jobs": jobs},
                 policies={"scheduler": scheduler, "placement": "first_fit"})  # fmt: skip


def min_normalised_throughput(data: dict[str, Any]) -> float:
    """The smaller, over the two classes, of the mean over their jobs of (work / JCT) / (throughput on an equal
    share: half its time on each type, (1 + speed on A100) / 2)."""
    jobs = run_data(data).jobs
    assert (jobs["state"] == "completed").all()
    classes = jobs["job_class"].astype(str)
    equal = np.array([(1.0 + SPEED[c]) / 2.0 for c in classes])
    normalised = jobs["duration_s"].to_numpy() / jobs["jct_s"].to_numpy() / equal
    return min(normalised[(classes == c).to_numpy()].mean() for c in SPEED)


def test_gavel_raises_the_minimum_normalised_throughput_above_fifos() -> None:
    """Paired replications (common random numbers): the mean difference is above 3 standard errors."""
    reps = 8
    diff = [min_normalised_throughput(mixed("gavel", s)) - min_normalised_throughput(mixed("fifo", s))
            for s in range(1, reps + 1)]  # fmt: skip
    mean, se = float(np.mean(diff)), float(np.std(diff, ddof=1) / math.sqrt(reps))
    assert mean > 3 * se > 0


def test_gavel_without_saving_on_preemption_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = pools(("H100", 8), workload={"jobs": [batch("j", 1, "1h")]}, preemption={"save": "last_checkpoint"})
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err
    assert "preemption.save" in err and "on_preemption" in err and "Traceback" not in err
