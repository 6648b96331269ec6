"""Elastic jobs under the `elastic` scheduler: starts, shrinks, growth and failures, computed by hand.

A job of class `a` has its duration measured at 4 GPUs and may run on 2 to 16; the data
center has 2 nodes of 8 GPUs. Under a linear curve it runs at g / 4 times its nominal speed
on g GPUs. Every expected value is the arithmetic that gives it, from the numbers of the case.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from dcsim.experiment.run import simulate
from dcsim.infra.cluster import Cluster
from dcsim.workload.elastic import AmdahlSpeedup, ElasticSpec, PowerSpeedup, TableSpeedup, speedup

from conftest import build, run_data

H = 3600.0


def _data(jobs: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "elastic",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        "workload": {"jobs": jobs},
        "policies": {"scheduler": "elastic"},
    }
    data.update(top)
    return data


def _elastic(at: float = 0.0, speedup: Any = "linear", **extra: Any) -> dict[str, Any]:
    return {
        "name": "a", "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 4, "duration": "8h",
        "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": speedup}, **extra,
    }  # fmt: skip


def _rigid(at: float, gpus: int = 8, duration: str = "1h") -> dict[str, Any]:
    return {"name": "b", "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": gpus, "duration": duration}


# ---------------------------------------------------------------- the curves
def test_the_curves_follow_their_formulas() -> None:
    """Linear g; Amdahl 1 / (f + (1 - f) / g); power g^a; a table interpolated linearly."""
    assert speedup(ElasticSpec(min_gpus=1, max_gpus=8, speedup="linear").speedup, 6) == 6.0
    assert speedup(AmdahlSpeedup(curve="amdahl", serial_fraction=0.1), 4) == pytest.approx(1 / (0.1 + 0.9 / 4))
    assert speedup(PowerSpeedup(curve="power", exponent=0.5), 16) == pytest.approx(4.0)
    table = TableSpeedup(curve="table", points=[(1, 1.0), (8, 6.0), (16, 9.0)])
    assert speedup(table, 4) == pytest.approx(1 + 5 * 3 / 7)
    assert speedup(table, 12) == pytest.approx(6 + 3 * 4 / 8)
    assert speedup(table, 16) == 9.0


# ---------------------------------------------------------------- hand-computed runs
@pytest.mark.parametrize(
    ("curve", "factor"),
    [
        ("linear", 4 / 16),
        ({"curve": "amdahl", "serial_fraction": 0.05}, (1 / (0.05 + 0.95 / 4)) / (1 / (0.05 + 0.95 / 16))),
    ],
)
def test_a_job_alone_runs_on_every_gpu_at_its_speedup(curve: Any, factor: float) -> None:
    """Alone on 16 GPUs it takes all (max_gpus 16): 8 h x speedup(4) / speedup(16); GPU-time is 16 GPUs held."""
    result = run_data(_data([_elastic(speedup=curve)]))
    jobs = result.jobs
    end = 8 * H * factor
    assert jobs.finish_s[0] == pytest.approx(end)
    assert jobs.mean_gpus[0] == 16.0 and jobs.resizes[0] == 0
    assert result.summary["utilization"]["gpu_allocated"] == pytest.approx(1.0)
    assert result.summary["jobs"]["mean_elastic_gpus"] == 16.0


def test_an_arrival_shrinks_the_job_and_its_end_grows_it_back() -> None:
    """A (8 h at 4 GPUs) takes 16 GPUs at 0; B (8 GPUs, 1 h) arrives at 1 h.

    At 1 h A has done 1 h x 16/4 = 4 h of its work; it shrinks to 8 GPUs (rate 2) and B starts.
    B ends at 2 h: A has 4 - 1 x 2 = 2 h left, grows back to 16 (rate 4) and ends 0.5 h later.
    A held 16 GPUs for 1 h, 8 for 1 h, 16 for 0.5 h: 32 GPU-hours over 2.5 h; B 8 GPU-hours:
    the 16 GPUs were all held the whole 2.5 h.
    """
    result = run_data(_data([_elastic(), _rigid(at=1 * H)]))
    jobs = result.jobs
    assert jobs.start_s[1] == 1 * H and jobs.finish_s[1] == 2 * H
    assert jobs.finish_s[0] == pytest.approx(2 * H + (4 * H - 1 * H * 2) / 4)
    assert jobs.resizes[0] == 2
    assert jobs.mean_gpus[0] == pytest.approx((16 * 1 + 8 * 1 + 16 * 0.5) / 2.5)
    s = result.summary
    assert s["jobs"]["resizes"] == 2
    assert s["utilization"]["gpu_allocated"] == pytest.approx((32 + 8) / (16 * 2.5))
    assert s["jobs"]["mean_elastic_gpus"] == pytest.approx(32 / 2.5)


def test_an_elastic_newcomer_gets_only_its_minimum_then_grows_when_the_first_ends() -> None:
    """A takes 16 GPUs at 0; A2 (same class shape, 2 to 16 GPUs) arrives at 1 h: A shrinks by 2.

    A: 4 h of work done by 1 h, then 14 GPUs (rate 3.5): its 4 h left end at 1 + 4/3.5 h.
    A2 runs on 2 GPUs (rate 0.5) until then, doing 0.5 x 4/3.5 h of work, then grows to 16 (rate 4).
    """
    second = {**_elastic(at=1 * H), "name": "a2"}
    jobs = run_data(_data([_elastic(), second])).jobs
    first_end = 1 * H + 4 * H / 3.5
    assert jobs.finish_s[0] == pytest.approx(first_end)
    assert jobs.start_s[1] == 1 * H
    done = 0.5 * (first_end - 1 * H)
    assert jobs.finish_s[1] == pytest.approx(first_end + (8 * H - done) / 4)


def test_gpus_move_to_the_job_that_gains_most() -> None:
    """A scales as sqrt(g) (power 0.5), B linearly; A has all 16 GPUs when B arrives at 1 h.

    A did 2 h of work by 1 h (rate sqrt(16/4) = 2) and gives B its 2 GPUs. Then each GPU moves
    from A to B while B's gain (4 x 1/4 = 1 GPU) beats A's loss, 4 x (sqrt(h) - sqrt(h - 1)) / 2,
    by the 0.1 margin: down to A's minimum of 2 (its loss there, 2 x (sqrt 3 - sqrt 2) = 0.64,
    still does). B runs on 14 GPUs (rate 3.5) and ends at 1 + 8 / 3.5 h; A runs at sqrt(2/4)
    meanwhile, then on 16 GPUs again (rate 2).
    """
    b = {**_elastic(at=1 * H), "name": "b"}
    a = _elastic(speedup={"curve": "power", "exponent": 0.5})
    jobs = run_data(_data([a, b])).jobs
    b_end = 1 * H + 8 * H / 3.5
    assert jobs.finish_s[1] == pytest.approx(b_end)
    left = 8 * H - 1 * H * 2 - (b_end - 1 * H) * math.sqrt(2 / 4)
    assert jobs.finish_s[0] == pytest.approx(b_end + left / 2)
    assert jobs.resizes.tolist() == [3, 1]  # A: for B's start, the moves, growth at B's end; B: the moves


def test_without_moves_the_newcomer_keeps_its_minimum() -> None:
    """The case above with `rebalance: false`: B runs on its 2 GPUs (rate 0.5) until A, on 14, ends.

    A: 6 h of work left at 1 h, at rate sqrt(14/4): ends at 1 + 6 / sqrt(3.5) h.
    """
    b = {**_elastic(at=1 * H), "name": "b"}
    a = _elastic(speedup={"curve": "power", "exponent": 0.5})
    policies = {"scheduler": {"name": "elastic", "params": {"rebalance": False}}}
    jobs = run_data(_data([a, b], policies=policies)).jobs
    a_end = 1 * H + 6 * H / math.sqrt(3.5)
    assert jobs.finish_s[0] == pytest.approx(a_end)
    assert jobs.finish_s[1] == pytest.approx(a_end + (8 * H - 0.5 * (a_end - 1 * H)) / 4)


def test_min_gain_leaves_gpus_idle_rather_than_add_them_at_little_worth() -> None:
    """Under sqrt(g) scaling the g-th GPU adds 4 x (sqrt g - sqrt(g - 1)) / 2 GPU-equivalents:
    0.54 for the 4th, 0.47 for the 5th. With min_gain 0.5 the job starts on 4 GPUs and stays:
    it ends at its 8 h, holding 4 of the 16 GPUs."""
    policies = {"scheduler": {"name": "elastic", "params": {"min_gain": 0.5}}}
    result = run_data(_data([_elastic(speedup={"curve": "power", "exponent": 0.5})], policies=policies))
    assert 2 * (math.sqrt(4) - math.sqrt(3)) > 0.5 >= 2 * (math.sqrt(5) - math.sqrt(4))
    assert result.jobs.finish_s[0] == pytest.approx(8 * H)
    assert result.summary["utilization"]["gpu_allocated"] == pytest.approx(4 / 16)


def test_a_waiting_job_that_shrinking_cannot_fit_leaves_the_elastic_job_whole() -> None:
    """B needs 16 GPUs but A can give at most 14 (min 2): nothing shrinks; B starts when A ends at 2 h."""
    jobs = run_data(_data([_elastic(), _rigid(at=1 * H, gpus=16)])).jobs
    assert jobs.finish_s[0] == pytest.approx(2 * H) and jobs.resizes[0] == 0
    assert jobs.start_s[1] == pytest.approx(2 * H)


def test_a_failure_after_a_shrink_keeps_the_work_checkpointed_at_every_speed() -> None:
    """A checkpoints every 1 h of work (writes take no time); it gives node 0 to B at 1 h (the
    lower of two nodes that need as many GPUs given back) and keeps node 1, which fails at 1.25 h.

    By 1 h it did 4 h of work (16 GPUs), by 1.25 h 0.25 x 2 = 0.5 h more: 4 h are saved. B (on
    node 0 until 2 h) is not hit. A waits (node 1 down, B rigid) and starts again at 2 h on
    node 0 (rate 2) with 4 h left; node 1 is back at 2.25 h and A grows onto it (rate 4): its
    4 - 0.25 x 2 = 3.5 h left take 0.875 h.
    """
    fail = [{"at": "75m", "for": "1h", "fail": {"site": "dc1", "rack": 0, "node": 1}}]
    a = _elastic(checkpoint={"interval": "1h", "write": 0, "restart": 0})
    jobs = run_data(_data([a, _rigid(at=1 * H)], events=fail)).jobs
    assert jobs.interruptions.tolist() == [1, 0]
    assert jobs.finish_s[1] == pytest.approx(2 * H)
    assert jobs.finish_s[0] == pytest.approx(2.25 * H + (4 - 0.25 * 2) * H / 4)


def test_a_failure_on_a_node_the_job_grew_onto_hits_it() -> None:
    """A gives node 0 to B at 1 h, grows back onto it when B ends at 2 h; node 0 fails at 2.25 h.

    A is hit (its holder lists follow its resizes). Without checkpointing it loses everything and
    runs again from 8 h of work on node 1's 8 GPUs (node 0 down until 3.25 h): rate 2 until
    3.25 h, then 16 GPUs at rate 4.
    """
    fail = [{"at": "135m", "for": "1h", "fail": {"site": "dc1", "rack": 0, "node": 0}}]
    result = run_data(_data([_elastic(), _rigid(at=1 * H)], events=fail))
    jobs = result.jobs
    assert jobs.interruptions.tolist() == [1, 0]
    done_by_repair = (3.25 - 2.25) * 2
    assert jobs.finish_s[0] == pytest.approx(3.25 * H + (8 - done_by_repair) * H / 4)


# ---------------------------------------------------------------- conservation, determinism
def test_gpu_time_counted_is_the_integral_of_the_allocations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A random workload of elastic and rigid jobs: allocated GPU-seconds = the integral of busy GPUs.

    The integral is taken from every change of the cluster's busy GPUs (its allocate and release),
    independently of the records the metrics read.
    """
    changes: list[tuple[float, int]] = []
    allocate, release = Cluster.allocate, Cluster.release
    clock: list[Any] = []

    def logged(method: Any) -> Any:
        def call(self: Cluster, placement: Any) -> None:
            method(self, placement)
            changes.append((clock[0].now, self.busy_gpus))

        return call

    monkeypatch.setattr(Cluster, "allocate", logged(allocate))
    monkeypatch.setattr(Cluster, "release", logged(release))
    import dcsim.engine.model as model

    original = model.DataCenterModel.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        clock.append(self.env)

    monkeypatch.setattr(model.DataCenterModel, "__init__", init)
    jobs = [
        {"name": "e", "arrival": {"process": "poisson", "rate": "2/h"}, "gpus": {"values": [2, 4]},
         "duration": {"dist": "exponential", "mean": "2h"},
         "elastic": {"min_gpus": 1, "max_gpus": 12, "speedup": {"curve": "power", "exponent": 0.7}}},
        {"name": "r", "arrival": {"process": "poisson", "rate": "1/h"}, "gpus": {"values": [1, 8]},
         "duration": {"dist": "exponential", "mean": "1h"}},
    ]  # fmt: skip
    result = run_data(_data(jobs, horizon="1d"))
    assert result.summary["jobs"]["resizes"] > 10  # the case exercises resizes
    times = np.array([0.0] + [t for t, _ in changes] + [24 * H])
    levels = np.array([0] + [b for _, b in changes])
    integral = float(np.sum(np.diff(times) * levels))
    assert result.summary["utilization"]["gpu_allocated"] == pytest.approx(integral / (16 * 24 * H), rel=1e-9)


def test_same_seed_same_summary(tmp_path: Any) -> None:
    """Two runs of one scenario and seed write byte-identical summaries."""
    jobs = [
        {
            "name": "e",
            "arrival": {"process": "poisson", "rate": "3/h"},
            "gpus": 4,
            "duration": {"dist": "exponential", "mean": "2h"},
            "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": {"curve": "amdahl", "serial_fraction": 0.1}},
        }
    ]
    scenario = build(_data(jobs, horizon="12h"))
    first, second = (json.dumps(simulate(scenario, 3).summary, sort_keys=True) for _ in range(2))
    assert first == second
    assert json.loads(first)["jobs"]["resizes"] > 0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"elastic": {"min_gpus": 8, "max_gpus": 4, "speedup": "linear"}}, "`min_gpus` 8 > `max_gpus` 4"),
        ({"elastic": {"min_gpus": 8, "max_gpus": 16, "speedup": "linear"}}, "`gpus` 4 is outside"),
        ({"elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": {"curve": "table", "points": [[1, 1], [8, 6], [16, 5]]}}},  # noqa: E501
         "must not fall"),
        ({"elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": {"curve": "table", "points": [[2, 1], [8, 6]]}}},
         "add points at both ends"),
        ({"communication": {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}},
         "`communication` profile is not modelled"),
    ],
)  # fmt: skip
def test_bad_elastic_blocks_are_refused_with_the_field(change: dict[str, Any], words: str) -> None:
    """Each names its field and the fix, in one message."""
    from dcsim.core.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        build(_data([{**_elastic(), **change}]))
    assert words in str(info.value) and "workload.jobs.0" in str(info.value)


def test_elastic_jobs_under_another_scheduler_run_rigid_with_a_note() -> None:
    """Under fifo an elastic class runs at its `gpus`, as without the block (so one file compares schedulers).

    Job a (4 GPUs, 8 h) alone on 16 GPUs: under fifo it ends at 8 h, not at 8 h x 4 / 16 = 2 h as the
    elastic scheduler would grow it; the note names the class and the scheduler.
    """
    from dcsim.scenario.unmodelled import unmodelled_notes

    rigid = run_data(_data([_elastic()], policies={"scheduler": "fifo"})).jobs
    assert rigid.finish_s[0] == pytest.approx(8 * H)
    grown = run_data(_data([_elastic()])).jobs
    assert grown.finish_s[0] == pytest.approx(2 * H)
    notes = unmodelled_notes(build(_data([_elastic()], policies={"scheduler": "fifo"})))
    assert any("job class a is elastic" in n and "'fifo'" in n for n in notes)


def test_the_cli_exits_2_with_one_message(tmp_path: Any) -> None:
    """`dcsim validate` on a decreasing table: exit 2, one message naming the field, no traceback."""
    import subprocess
    import sys

    import yaml

    path = tmp_path / "s.yaml"
    bad = _elastic(speedup={"curve": "table", "points": [[1, 1], [16, 0.5]]})
    path.write_text(yaml.safe_dump(_data([bad])), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "workload.jobs.0.elastic.speedup" in out.stderr and "Traceback" not in out.stderr
    assert math.isfinite(len(out.stderr))
