"""Exact event traces of the policy zoo (EASY and conservative backfill, SRTF, LAS, Tiresias) on hand-built queues.

Every case runs a CSV trace of ``(submit_s, GPUs, run time s[, estimate s])`` on one node of
8 GPUs (a job's GPUs always fit by count exactly when they fit the node), and the start and
finish times are worked out by hand in the docstrings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcsim.engine.model import DataCenterModel
from dcsim.metrics.tables import jobs_table
from dcsim.policies import zoo
from dcsim.policies.scheduling import Preempt

from conftest import build, run_data, tiny_data


def trace_data(
    tmp_path: Path, rows: list[tuple], scheduler: Any, nodes: int = 1, resume: bool = False
) -> dict[str, Any]:
    """A scenario of ``rows`` (submit, gpus, duration[, estimate]) on ``nodes`` 8-GPU nodes."""
    estimates = any(len(r) > 3 for r in rows)
    lines = ["t,gpus,dur" + (",est" if estimates else "")]
    lines += [",".join(str(v) for v in (r if len(r) > 3 or not estimates else (*r, r[2]))) for r in rows]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    columns = {"submit_time": "t", "gpus": "gpus", "duration": "dur"}
    if estimates:
        columns["estimate"] = "est"
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": nodes, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv", "columns": columns}},
        policies={"scheduler": scheduler, "placement": "first_fit"},
    )
    if resume:
        data["preemption"] = {"save": "on_preemption"}
    return data


def trace_run(tmp_path: Path, rows: list[tuple], scheduler: Any, **kw: Any) -> Any:
    """Run the trace; the RunResult."""
    return run_data(trace_data(tmp_path, rows, scheduler, **kw), base_dir=str(tmp_path))


def starts(result: Any) -> list[tuple[int, float, float]]:
    """(job id, first start, finish) per job, in id order."""
    j = result.jobs
    return list(zip(j["job_id"], j["start_s"], j["finish_s"], strict=True))


# ---------------------------------------------------------------------- EASY
def test_easy_backfills_short_jobs_and_extra_gpus_only(tmp_path: Path) -> None:
    """A (6 GPUs) 0-100. B (4) at 10 does not fit: shadow time 100 (A's end), extra GPUs 8 - 4 = 4.

    C (2 GPUs, 50 s) at 20 ends at 70 <= 100: starts at once. D (2, 200 s) at 25: no GPU free.
    At 70 C ends: D would end at 270 > 100 but takes 2 <= 4 extra GPUs: starts at 70.
    At 100 A ends: B starts (8 - 2 = 6 free >= 4).
    """
    r = trace_run(tmp_path, [(0, 6, 100), (10, 4, 50), (20, 2, 50), (25, 2, 200)], "easy_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 20.0, 70.0), (3, 70.0, 270.0)]


def test_easy_keeps_a_long_job_out_of_the_heads_reservation(tmp_path: Path) -> None:
    """A (4 GPUs) 0-100; B (8) at 10: shadow 100, extra 0.

    C (2 GPUs, 200 s) at 20 fits now but would end at 220 > 100 and takes GPUs the head needs:
    it waits (greedy backfill would start it and delay B to 220). D (2, 50 s) at 30 ends at
    80 <= 100: starts. B 100-150, then C 150-350.
    """
    rows = [(0, 4, 100), (10, 8, 50), (20, 2, 200), (30, 2, 50)]
    r = trace_run(tmp_path, rows, "easy_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 150.0, 350.0), (3, 30.0, 80.0)]
    greedy = trace_run(tmp_path, rows, {"name": "fifo", "params": {"backfill": True}})
    assert starts(greedy)[1] == (1, 220.0, 270.0)  # what the reservation prevents


def test_easy_takes_a_job_past_its_estimate_as_ending_now(tmp_path: Path) -> None:
    """A (6 GPUs) runs 100 s but declared 50. B (4) at 10: shadow 50 (A's estimated end), extra 4.

    C (2 GPUs, 30 s) at 60: A is past its estimate, so the shadow time is now (60); C ends at
    90 > 60 but takes 2 <= 4 extra GPUs (2 free now + A's 6 - B's 4): it starts at 60.
    A ends at 100: B starts (6 free).
    """
    r = trace_run(tmp_path, [(0, 6, 100, 50), (10, 4, 20, 20), (60, 2, 30, 30)], "easy_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 120.0), (2, 60.0, 90.0)]


EASY_AGAINST_CONSERVATIVE = [(0, 4, 100), (10, 6, 50), (20, 7, 100), (30, 2, 400)]


def test_easy_protects_only_the_head(tmp_path: Path) -> None:
    """A (4 GPUs) 0-100. B (6) at 10: shadow 100, extra 8 - 6 = 2. C (7) at 20: does not fit.

    D (2 GPUs, 400 s) at 30 takes the 2 extra GPUs: starts at 30, ends at 430. A ends at 100:
    B starts (6 free). C, now the head, needs 7: 6 are free when B ends at 150, 8 only when D
    ends: C runs 430-530 (D delayed it: EASY reserves for the head alone).
    """
    r = trace_run(tmp_path, EASY_AGAINST_CONSERVATIVE, "easy_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 430.0, 530.0), (3, 30.0, 430.0)]


def test_conservative_backfill_delays_no_reservation(tmp_path: Path) -> None:
    """The same jobs: every queued job is reserved in order on the profile of free GPUs.

    B at 10: 4 free until A's end at 100: reserved [100, 150). C at 20 (7 GPUs): 2 free in
    [100, 150), 8 after: reserved [150, 250). D at 30 (2 GPUs, 400 s): only 1 GPU is free in
    [150, 250), so the first time it fits for 400 s is 250: reserved [250, 650). No job
    starts out of order; each starts at its reservation.
    """
    r = trace_run(tmp_path, EASY_AGAINST_CONSERVATIVE, "conservative_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 150.0, 250.0), (3, 250.0, 650.0)]


def test_conservative_backfill_starts_a_job_that_delays_none(tmp_path: Path) -> None:
    """A (4 GPUs) 0-100; B (8) at 10: reserved at 100. C (4 GPUs, 60 s) at 30 fits in [30, 90): starts.

    E (4 GPUs, 80 s) at 40 would end at 120, inside B's reservation: reserved after B, at 150.
    """
    r = trace_run(tmp_path, [(0, 4, 100), (10, 8, 50), (30, 4, 60), (40, 4, 80)], "conservative_backfill")
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 30.0, 90.0), (3, 150.0, 230.0)]


def run_model(tmp_path: Path, rows: list[tuple], scheduler: Any, **kw: Any) -> tuple[Any, Any]:
    """Run the trace on a model kept for inspection; (model, jobs table)."""
    model = DataCenterModel(build(trace_data(tmp_path, rows, scheduler, **kw), base_dir=str(tmp_path)))
    model.run()
    return model, jobs_table(model.collector, model.topology).to_pandas()


jobs = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 8), st.integers(1, 200)), min_size=2, max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=jobs)
def test_easy_head_starts_by_its_reservation(tmp_path: Path, rows: list[tuple[int, int, int]]) -> None:
    """Exact estimates on one node: every job that was a blocked head starts no later than its first shadow time.

    Backfilled jobs end by the shadow time or take only extra GPUs, and every run ends at
    its estimate, so no start out of order can push the head's start past its reservation.
    """
    rows = sorted(rows)
    model, table = run_model(tmp_path, rows, "easy_backfill")
    assert model.scheduler.kept_reservations[1] == 0  # heads that started after their first shadow time
    assert not model.scheduler.reservations  # every head started
    assert len(table) == len(rows)


def test_a_blocked_head_gets_a_reservation(tmp_path: Path) -> None:
    """The property above is not empty: B waits behind A (reserved at 100) and starts at 100, kept.

    With A's estimate 50 for its 100 s, B's first reservation is 50 and it starts at 100: late.
    """
    model, _ = run_model(tmp_path, [(0, 6, 100), (10, 4, 50)], "easy_backfill")
    assert model.scheduler.kept_reservations == [1, 0]
    model, _ = run_model(tmp_path, [(0, 6, 100, 50), (10, 4, 50, 50)], "easy_backfill")
    assert model.scheduler.kept_reservations == [0, 1]


# ---------------------------------------------------------------------- SRTF
def test_srtf_preempts_the_longest_remaining_and_resumes_it(tmp_path: Path) -> None:
    """Whole-node jobs, preempt-resume. A (100 s) 0-10; B (30 s) at 10: 30 < A's 90 left: A is preempted.

    C (50 s) at 20: 50 > B's 20 left: it waits. B ends at 40; queued by remaining: C (50),
    A (90): C 40-90, then A resumes its 90 s: 90-180.
    """
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 30), (20, 8, 50)], "srtf", resume=True)
    assert starts(r) == [(0, 0.0, 180.0), (1, 10.0, 40.0), (2, 40.0, 90.0)]
    assert r.summary["jobs"]["preemptions"] == 1


def test_srtf_without_resume_reruns_the_victim(tmp_path: Path) -> None:
    """Without preemption.save the victim loses its 10 s (no checkpoints): A is queued with 100 s left again.

    B 10-40, C 40-90 (50 < 100), A 90-190.
    """
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 30), (20, 8, 50)], "srtf")
    assert starts(r) == [(0, 0.0, 190.0), (1, 10.0, 40.0), (2, 40.0, 90.0)]


# ---------------------------------------------------------------------- LAS
def test_las_shares_in_turns_of_a_quantum(tmp_path: Path) -> None:
    """Whole-node jobs (8 GPUs), quantum 5 s = 40 GPU-s; preempt-resume.

    A (100 s) has 80 GPU-s at 10 when B (30 s) arrives with 0: 80 >= 0 + 40, A gives way.
    Then each runs until it has 40 GPU-s more than the other: B to 120 GPU-s (10-25), A to
    160 (25-35), B to 200 (35-45), A to 240 (45-55); B has done 15 + 10 = 25 s and ends its
    last 5 s at 60; A has done 30 s and runs its 70 left: 60-130. Five preemptions.
    """
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 30)], {"name": "las", "params": {"quantum": 5}}, resume=True)
    assert starts(r) == [(0, 0.0, 130.0), (1, 10.0, 60.0)]
    assert r.summary["jobs"]["preemptions"] == 5


# ---------------------------------------------------------------------- Tiresias
TIRESIAS = {"name": "tiresias", "params": {"thresholds_gpu_h": [0.1]}}  # 360 GPU-s: 45 s on 8 GPUs


def test_tiresias_demotes_at_the_threshold_and_keeps_fifo_in_a_queue(tmp_path: Path) -> None:
    """Whole-node jobs, preempt-resume, two queues split at 360 GPU-s (45 s on 8 GPUs).

    A (100 s) 0-45; B (20 s) at 10 waits: both in the top queue, A first. At 45 A crosses
    the threshold: B (top queue) preempts it: B 45-65. C (100 s) at 50 waits behind B, in the
    top queue: C 65-165 (A is in the lower one). C moves down at 110, to A's queue, where A
    is first but does not preempt (same queue): A resumes its 55 s at 165: 165-220.
    """
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 20), (50, 8, 100)], TIRESIAS, resume=True)
    assert starts(r) == [(0, 0.0, 220.0), (1, 45.0, 65.0), (2, 65.0, 165.0)]
    assert r.summary["jobs"]["preemptions"] == 1


def test_tiresias_promotes_a_starved_job(tmp_path: Path) -> None:
    """Starve limit 1: a job waiting longer than its last run goes to the top queue, its service counted anew.

    A (100 s) 0-45, demoted, preempted by B (200 s). A ran 45 s: promoted at 90, when B
    (demoted at 90) gives way: A 90-135 (demoted again after 360 GPU-s from its promotion).
    B, waiting since 90 after a 45 s run, is promoted at 135: B 135-180. A, promoted at
    180, runs its last 10 s: 180-190. B resumes its 110 s left: 190-300. Four preemptions.
    Without promotion A waits for B: B 45-245, A 245-300.
    """
    starving = {"name": "tiresias", "params": {"thresholds_gpu_h": [0.1], "starve_limit": 1}}
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 200)], starving, resume=True)
    assert starts(r) == [(0, 0.0, 190.0), (1, 45.0, 300.0)]
    assert r.summary["jobs"]["preemptions"] == 4
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 200)], TIRESIAS, resume=True)
    assert starts(r) == [(0, 0.0, 300.0), (1, 45.0, 245.0)]


# ---------------------------------------------------------------------- priorities never invert
_PLAIN_PASS = zoo._Preemptive._pass


def _watch(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[tuple[Any, Any]]:
    """Record (victim's rank, the rank of the job started for it) at every preemption of ``cls``."""
    seen: list[tuple[Any, Any]] = []
    plain = _PLAIN_PASS

    def watched(self: Any, queue: Any, cluster: Any, now: float, arrival: Any) -> Any:
        victims = []
        for decision in plain(self, queue, cluster, now, arrival):
            if isinstance(decision, Preempt):
                victims.append(self.rank(decision.job, now, True))
            elif victims:
                mine = self.rank(decision[0], now, False)
                seen.extend((v, mine) for v in victims)
                victims = []
            yield decision

    monkeypatch.setattr(cls, "_pass", watched)
    return seen


preemptive_jobs = st.lists(
    st.tuples(st.integers(0, 300), st.sampled_from([1, 2, 4, 8, 16]), st.integers(5, 300)), min_size=3, max_size=12
)


@pytest.mark.parametrize(
    ("scheduler", "strict"),
    [("srtf", True), ({"name": "las", "params": {"quantum": 10}}, False), (TIRESIAS, True)],
    ids=["srtf", "las", "tiresias"],
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=preemptive_jobs)
def test_priorities_never_invert_under_preemption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheduler: Any, strict: bool, rows: list[tuple]
) -> None:
    """Random workloads on two nodes: every victim ranks below the job it gives its GPUs to.

    SRTF: its remaining time is longer; Tiresias: it is in a lower queue; LAS: it has attained
    a quantum more (its victims' rank is attained service, so larger than the job's).
    """
    seen = _watch(monkeypatch, zoo._Preemptive)
    run_data(trace_data(tmp_path, sorted(rows), scheduler, nodes=2, resume=True), base_dir=str(tmp_path))
    for victim, job in seen:
        if isinstance(victim, tuple):
            assert victim[0] > job[0]
        else:
            assert victim > job if strict else victim >= job


def test_the_inversion_check_sees_preemptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The property above is not empty: SRTF's trace with a preemption is seen (A's 90 s left against B's 30)."""
    seen = _watch(monkeypatch, zoo._Preemptive)
    trace_run(tmp_path, [(0, 8, 100), (10, 8, 30)], "srtf", resume=True)
    assert seen == [(90.0, 30.0)]
