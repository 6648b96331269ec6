"""The policy zoo's pieces on hand-built states: the free-GPU profile, estimated ends and shadow times, params."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dcsim.core.errors import ScenarioError
from dcsim.policies import SCHEDULER
from dcsim.policies.zoo import _Ends, _Profile, estimated_left

from conftest import build, tiny_data


class _Job:
    """The fields of a job the zoo reads."""

    def __init__(self, id: int, gpus: int, start: float, estimate: float, node: int = 0, done: float = 0.0) -> None:
        self.id, self.gpus, self.start_time, self.estimate = id, gpus, start, estimate
        self.duration, self.work_left = estimate, estimate - done
        self.restart_cost, self.rate = 0.0, 1.0
        self.run_interval, self.run_write = math.inf, 0.0  # no checkpoints
        self.placement = [(node, gpus)]


def test_profile_finds_the_first_window_that_holds_the_job() -> None:
    """8 GPUs free from 0; 6 taken over [10, 30): 4 GPUs for 15 s fit at 0? No: [0, 15) crosses 10 (2 free).

    They fit from 30 on. 2 GPUs for 15 s fit at 0 (2 free in [10, 30)).
    """
    profile = _Profile(0.0, 8)
    profile.add(10.0, 30.0, -6)
    assert profile.times == [0.0, 10.0, 30.0]
    assert profile.free == [8, 2, 8]
    assert profile.earliest(4, 15.0, 0.0) == 30.0
    assert profile.earliest(4, 10.0, 0.0) == 0.0  # [0, 10) is enough
    assert profile.earliest(2, 15.0, 0.0) == 0.0
    assert profile.earliest(9, 1.0, 0.0) == math.inf


def test_shadow_time_and_extra_gpus_from_estimated_ends() -> None:
    """Free 2 of 8 on pool 0; running: 4 GPUs to 100, 2 GPUs to 50 (node 1 is pool 1: ignored for pool 0).

    A head of 5 GPUs: 2 free + 2 at 50 = 4, + 4 at 100 = 8 >= 5: shadow 100, extra 8 - 5 = 3.
    A head of 3: 2 + 2 at 50 = 4 >= 3: shadow 50, extra 1. A job past its estimate counts as ending now.
    """
    ends = _Ends()
    node_pool = (0, 1)
    ends.add(_Job(1, 4, 0.0, 100.0), node_pool)
    ends.add(_Job(2, 2, 20.0, 30.0), node_pool)
    ends.add(_Job(3, 6, 0.0, 10.0, node=1), node_pool)
    assert ends.shadow(40.0, 5, (0,), 2) == (100.0, 3)
    assert ends.shadow(40.0, 3, (0,), 2) == (50.0, 1)
    assert ends.shadow(60.0, 3, (0,), 2) == (60.0, 1)  # job 2 overran its estimated end (50): now
    assert ends.shadow(40.0, 9, (0,), 2) == (math.inf, 0)  # pool 0 never frees 9
    ends.remove(_Job(1, 4, 0.0, 100.0))
    assert ends.shadow(40.0, 5, (0,), 2) == (math.inf, 0)


def test_estimate_left_counts_earlier_runs() -> None:
    """A job declared 100 s that did 30 s in an earlier run has 70 s left; one past its estimate has 0."""
    assert estimated_left(_Job(1, 1, 0.0, 100.0, done=30.0)) == 70.0
    job = _Job(1, 1, 0.0, 100.0)
    job.work_left = job.duration - 120.0
    assert estimated_left(job) == 0.0


def test_zoo_schedulers_are_registered_with_papers_and_costs() -> None:
    """Each is in the registry, and its docstring names where it comes from and its cost per decision."""
    for name, source in [("easy_backfill", "Lifka"), ("conservative_backfill", "Feitelson"), ("srtf", "Schrage"),
                         ("las", "Rai"), ("tiresias", "NSDI 2019")]:  # fmt: skip
        cls = SCHEDULER.lookup(name)
        assert source in cls.__doc__
        assert "Cost per decision" in cls.__doc__


def test_tiresias_thresholds_must_ascend(tmp_path: Path) -> None:
    """A descending threshold list is refused at validation, by name, and the CLI exits 2 with one message."""
    data = tiny_data(policies={"scheduler": {"name": "tiresias", "params": {"thresholds_gpu_h": [8, 1]}}})
    with pytest.raises(ScenarioError, match=r"thresholds_gpu_h .* ascending"):
        build(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "thresholds_gpu_h" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
