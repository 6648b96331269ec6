"""Job runs: a job holding its GPUs, from its start to its end or its loss.

A run holds its work left, its rate, the time since which that rate holds, its phase
(restart, compute, checkpoint write) and a token (:class:`dcsim.faults.checkpoint.RunClock`).
A run whose rate never changes has one pending SimPy timeout, computed at the start
(the fast path: no clock object); :meth:`Runs.set_rate` settles the work done at the old
rate and moves the end: when it comes earlier than the live end event, it bumps the token
(the old event goes stale) and schedules one new end; when it comes later, it leaves the
live event, which finds the run not done when it fires and schedules the end from there.
So a run whose rate goes up and down under contention keeps one live event and leaves at
most one stale one per earlier move in the heap.

A run whose checkpoints have a size (their writes share storage bandwidth) moves from phase
to phase on events instead (:class:`dcsim.engine.storage.SizedCheckpoints`).

A run is a *holder*: it has a ``placement`` and is lost with ``job.lose(reason, failure)``
(a failure, maintenance, or a policy's preemption), which settles what it loses by the
checkpoint arithmetic and queues the job again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from dcsim.faults import checkpoint as ckpt
from dcsim.infra.cluster import Cluster, Placement
from dcsim.metrics.collector import Collector
from dcsim.workload.jobs import COMPLETED, DECOMMISSIONED, FAILURE, INTERRUPTED, MAINTENANCE, REASONS, RUNNING, Job

if TYPE_CHECKING:
    from dcsim.engine.network import Network
    from dcsim.engine.reliability import Reliability
    from dcsim.engine.storage import SizedCheckpoints
    from dcsim.engine.tenancy import Tenancy


class Runs:
    """The running jobs of one model: starts, rate changes, ends and losses.

    Args:
        env: the SimPy environment.
        cluster: the live GPU state (allocated at a start, released at an end).
        collector: receives ``job_started``, ``job_finished``, ``job_interrupted`` and overhead records.
        track: keep the jobs on each node and every running job (failures, maintenance,
            checkpoints and preemption need them; the plain engine stays lean).
        ended: called after a run finished (the engine then schedules).
        requeue: queues a lost job's next attempt.
    """

    def __init__(
        self,
        env: simpy.Environment,
        cluster: Cluster,
        collector: Collector,
        track: bool,
        ended: Callable[[], None],
        requeue: Callable[[Job], None],
    ) -> None:
        self.env, self.cluster, self.collector = env, cluster, collector
        self.track = track
        self.ended, self.requeue = ended, requeue
        self.count = 0
        #: Jobs holding GPUs on each node, and every running job by id (kept when ``track``).
        self.node_jobs: list[list[Job]] = [[] for _ in cluster.free] if track else []
        self.running_jobs: dict[int, Job] = {}
        cluster.holders = self.running_jobs  # type: ignore[assignment]
        #: The reliability machinery, when there are failures or maintenance (set by the engine).
        self.rel: Reliability | None = None
        #: The jobs' traffic on the fabric, when a job class communicates (set by the engine).
        self.network: Network | None = None
        #: The runs of jobs whose checkpoints have a size, through storage (set by the engine when a class has one).
        self.sized: SizedCheckpoints | None = None
        #: A policy's preemption writes a checkpoint on the way out, as a maintenance eviction does
        #: (``preemption.save: on_preemption``); a job without checkpointing resumes where it stopped.
        self.save_on_preempt = False
        #: Told of every start, when a site router counts the jobs queued at each site (set by the engine).
        self.started: Callable[[Job], None] | None = None
        #: Each running elastic job's open ``elastic_span`` record (its row) and its run's pool.
        self.spans: dict[int, tuple[int, int]] = {}
        #: Each running elastic job's GPU-seconds held in its run's closed spans (before its last resize).
        self.held_s: dict[int, float] = {}
        #: A scheduler that indexes the running jobs: told of each start (``run_started(job)``, its rate
        #: known) and each end or loss (``run_left(job)``); set by the dispatcher.
        self.watcher: Any = None
        #: The tenants' usage, told of every start, end and loss, with a ``tenants`` block (set by the engine).
        self.tenancy: Tenancy | None = None

    def holders(self, node: int) -> list[Job]:
        """The runs holding GPUs on ``node`` (a live list: do not keep it)."""
        return self.node_jobs[node]

    def start(self, job: Job, placement: Placement) -> None:
        """Give a job its GPUs and schedule its end."""
        cluster = self.cluster
        if job.slots is None:
            cluster.allocate(placement)
        else:  # its GPUs are shared (a SharedCluster): CPU, memory and milli-GPU on the GPUs it was given
            cluster.take(job.slots)  # type: ignore[attr-defined]
        job.state = RUNNING
        job.placement = placement
        job.start_time = now = self.env.now
        self.count += 1
        if self.started is not None:
            self.started(job)
        if self.tenancy is not None:
            self.tenancy.started(job)
        racks = len({cluster.node_rack[n] for n, _ in placement}) if len(placement) > 1 else 1
        first = placement[0][0]
        self.collector.on_job_started(
            now, job.id, cluster.node_pool[first], first, len(placement), racks, cluster.locality(placement)
        )
        speeds = job.speeds
        if speeds is not None:  # a job spanning GPU types runs at its slowest GPU
            job.rate = min(speeds[cluster.node_pool[n]] for n, _ in placement)
        if job.elastic is not None:  # at its speed-up over the count its duration is measured at
            held = job.held = sum(g for _, g in placement)
            job.rate *= job.elastic.rate(held, job.gpus)
            pool = cluster.node_pool[first]
            self.spans[job.id] = (self.collector.on_elastic_span(now, job.id, pool, held, math.nan, True), pool)
        if self.network is not None and job.communication is not None and len(placement) > 1:
            job.rate = self.network.start(job, placement, job.rate)  # its share of the fabric, and others' new shares
        rate = job.rate
        watcher = self.watcher
        if not self.track:
            if watcher is not None:
                watcher.run_started(job)
            self.env.timeout(job.duration / rate, job).callbacks.append(self._finish)
            return
        job.runs = self
        node_jobs = self.node_jobs
        for n, _ in placement:
            node_jobs[n].append(job)
        self.running_jobs[job.id] = job
        wall = job.work_left / rate if rate > 0.0 else math.inf
        if job.checkpoint is not None:
            interval, write, _ = job.checkpoint
            sized = self.sized if job.checkpoint_size else None
            if sized:  # a write takes what the storage gives it; Young/Daly takes its time on idle storage
                write = sized.expected_write(job)
            if interval != interval:  # NaN: Young/Daly for this placement, in wall time: as work, at this rate
                mtti = self.rel.mtti(placement) if self.rel is not None else math.inf
                interval = max(ckpt.daly(write, mtti), 1.0) * (rate if rate > 0.0 else 1.0)
            job.run_interval = interval
            job.run_write = write
            if not job.restarts:
                self.collector.checkpoint_intervals[job.id] = interval
        if watcher is not None:  # its rate, checkpoint interval and write time known
            watcher.run_started(job)
        if job.checkpoint is not None:
            if sized:
                sized.start(job, interval, rate)  # phase by phase, on events
                return
            wall = ckpt.wall_time(job.work_left, interval, write, job.restart_cost, rate) if rate > 0.0 else wall
        elif job.restart_cost:
            wall += job.restart_cost
        if rate <= 0.0:
            # Its fabric path has no capacity now (links down): its clock holds it, with no end
            # scheduled, until set_rate moves it.
            write = job.checkpoint[1] if job.checkpoint is not None else 0.0
            job.clock = ckpt.RunClock(job.work_left, job.run_interval, write, job.restart_cost, 0.0, now)
            return
        self.env.timeout(wall, job).callbacks.append(self._finish)

    def set_rate(self, job: Job, rate: float) -> None:
        """Change the speed of a running job (s of work per s) from now on, and move its end.

        The run's progress is settled at the old rate (work done, checkpoint phase). An end
        that moves earlier than the live end event gets a new event (the token bumped, the
        old one stale); one that moves later keeps the live event, which reschedules itself
        when it fires (see :meth:`_finish`). A run whose rate never changes keeps its single
        timeout.
        """
        if job.state != RUNNING:
            return
        if job.checkpoint_size and self.sized is not None:
            self.sized.set_rate(job, rate)
            return
        now = self.env.now
        clock = job.clock
        if clock is None:
            plan = job.checkpoint
            write = plan[1] if plan is not None else 0.0
            clock = job.clock = ckpt.RunClock(job.work_left, job.run_interval, write, job.restart_cost, job.rate,
                                              job.start_time)  # fmt: skip
            clock.pending = job.start_time + clock.wall_left()  # the start's end event, at its first rate
        left = clock.retime(now, rate)
        job.rate = rate
        if clock.pending <= now + left:
            return  # the live end event comes first; it finds the run not done and moves itself on
        job.token += 1
        clock.pending = now + left
        if left < math.inf:
            self.env.timeout(left, (job, job.token)).callbacks.append(self._finish)

    def resize(self, job: Job, placement: Placement) -> None:
        """Give a running elastic job a new placement (more or fewer GPUs) and its speed there, from now on.

        The GPUs it gives back are released (on a cordoned node, out of service), those it
        gains allocated; the per-node holder lists follow, so a failure or a drain of any
        node it holds now finds it. Its speed becomes ``speedup(held) / speedup(gpus)`` (times
        its slowest GPU type's), through :meth:`set_rate`: the work done so far is settled
        at the old speed and its end moves. Invariant: ``placement`` is valid (the
        dispatcher checks a plug-in's) and the job is running and tracked.
        """
        cluster, node_jobs = self.cluster, self.node_jobs
        old, new = dict(job.placement), dict(placement)
        fewer = [(n, g - new.get(n, 0)) for n, g in job.placement if new.get(n, 0) < g]
        more = [(n, g - old.get(n, 0)) for n, g in placement if old.get(n, 0) < g]
        if fewer:
            cluster.release(fewer)
            if cluster.cordoned and self.rel is not None:
                self.rel.released(fewer)
        if more:
            cluster.allocate(more)
        for n in old:
            if n not in new:
                node_jobs[n].remove(job)
        for n in new:
            if n not in old:
                node_jobs[n].append(job)
        before = job.placement
        job.placement = list(placement)
        if self.tenancy is not None:
            self.tenancy.resized(job, before)
        now = self.env.now
        row, pool = self.spans[job.id]
        spans = self.collector.elastic_spans
        spans["until"][row] = now
        self.held_s[job.id] = self.held_gpu_s(job, now)
        held = job.held = sum(new.values())
        self.spans[job.id] = (self.collector.on_elastic_span(now, job.id, pool, held, math.nan, False), pool)
        speeds = job.speeds
        base = 1.0 if speeds is None else min(speeds[cluster.node_pool[n]] for n in new)
        assert job.elastic is not None
        self.set_rate(job, base * job.elastic.rate(held, job.gpus))

    def held_gpu_s(self, job: Job, now: float) -> float:
        """GPU-seconds the job's current run has held up to ``now`` (an elastic run: the GPUs of each span)."""
        if job.elastic is None or job.id not in self.spans:
            return job.gpus * (now - job.start_time)
        since = self.collector.elastic_spans["time"][self.spans[job.id][0]]
        return self.held_s.get(job.id, 0.0) + job.held * (now - since)

    def progress(self, job: Job, now: float) -> ckpt.Progress:
        """Where the job's run stands at ``now``."""
        return ckpt.run_progress(job, now)

    def _left(self, job: Job) -> None:
        """A running job gave back its GPUs (finished or lost)."""
        if self.network is not None and job.communication is not None:
            self.network.end(job, self.env.now)
        if self.sized is not None and job.checkpoint_size:
            self.sized.left(job)
        if job.slots is None:
            self.cluster.release(job.placement)
        else:
            self.cluster.give(job.slots)  # type: ignore[attr-defined]
        self.count -= 1
        if job.elastic is not None:
            self.collector.elastic_spans["until"][self.spans.pop(job.id)[0]] = self.env.now
            self.held_s.pop(job.id, None)
        if self.watcher is not None:
            self.watcher.run_left(job)
        if self.tenancy is not None:
            self.tenancy.left(job)
        if self.track:
            for n, _ in job.placement:
                self.node_jobs[n].remove(job)
            del self.running_jobs[job.id]
            if self.cluster.cordoned and self.rel is not None:
                self.rel.released(job.placement)

    def overhead(self, job: Job, end: float) -> None:
        """Record the restart and checkpoint time of the job's run ending at ``end`` (nothing lost)."""
        p = self.progress(job, end)
        if p.restart or p.checkpoint:
            self.collector.on_overhead(job.id, job.start_time, end, p.restart, p.checkpoint, 0.0)

    def _finish(self, event: Any) -> None:
        """End callback: release the GPUs and schedule.

        A stale event (of a lost run, or one whose end moved earlier) does nothing; a live one
        that fires before the run is done (its end moved later since) schedules the end anew.
        """
        job = event.value
        if job.__class__ is tuple:  # an end moved by a rate change: only the latest counts
            job, token = job
            if token != job.token:
                return
        elif job.token:
            return
        if job.state != RUNNING:
            return
        clock = job.clock
        if clock is not None:  # its rate moved since this event was set: is it done?
            now = self.env.now
            left = clock.retime(now, clock.rate)
            if left > 1e-12 * max(now, 1.0):
                clock.pending = now + left
                if left < math.inf:
                    self.env.timeout(left, event.value).callbacks.append(self._finish)
                return
        self.complete(job)

    def complete(self, job: Job) -> None:
        """A running job has done all its work: record its overhead, release its GPUs, schedule."""
        if self.track and (job.checkpoint is not None or job.restart_cost):
            self.overhead(job, self.env.now)
        self._left(job)
        job.state = COMPLETED
        if self.tenancy is not None:
            self.tenancy.finished(job)
        self.collector.on_job_finished(self.env.now, job.id)
        self.ended()

    def lose(self, job: Job, reason: str, failure: Any = None) -> None:
        """Cut a running job short: by a failure, evicted for maintenance, or preempted by a policy.

        Work since the last completed checkpoint is lost; an evicted job with
        checkpointing writes one as it leaves (its write time is paid at its restart).
        The job goes back to the queue (at its scheduler's place), or fails after
        ``max_restarts`` failures. The caller runs the scheduling pass.
        """
        code = REASONS.index(reason)
        now = self.env.now
        plan = job.checkpoint
        _, write, restart = plan if plan is not None else (math.inf, 0.0, 0.0)
        p = self.progress(job, now)
        saved, lost = p.saved, p.unsaved_wall
        restart_cost = restart
        saving = code == MAINTENANCE or (self.save_on_preempt and MAINTENANCE < code < DECOMMISSIONED)
        if saving and code != MAINTENANCE and plan is None:  # preempt-resume: it goes on where it stopped
            saved, lost = p.saved + p.unsaved, 0.0
        elif saving and plan is not None:
            saved, lost = p.saved + p.unsaved, 0.0
            # The checkpoint written on the way out is paid at the restart; with nothing
            # new to save (evicted while restarting) there is none to write.
            restart_cost = restart + (write if p.unsaved > 0 else 0.0)
        if p.restart or p.checkpoint or lost:
            self.collector.on_overhead(job.id, job.start_time, now, p.restart, p.checkpoint, lost)
        attained = job.attained + self.held_gpu_s(job, now)
        self._left(job)
        job.state = INTERRUPTED
        failed = code == FAILURE
        again = job.requeued(job.work_left - saved, failed=failed)
        again.restart_cost = restart_cost
        again.attained = attained
        again.last_run = (job.start_time, now)
        limit = self.rel.max_restarts if self.rel is not None else None
        requeue = not failed or limit is None or again.interruptions <= limit  # only failures count
        if failure is not None:
            failure.jobs_hit += 1
        restart_s = restart_cost
        if job.checkpoint_size and self.sized is not None:
            # The checkpoint taken on the way out is written at the restart, as a fixed write is paid
            # there; the restart's transfers are counted at their time on idle storage (at least that).
            again.write_owed = saving and p.unsaved > 0
            restart_s += len(self.sized.restart_transfers(again)) * self.sized.expected_write(job)
        self.collector.on_job_interrupted(
            now,
            job.id,
            failure.id if failure is not None else -1,
            lost,
            restart_s if requeue else 0.0,
            requeue,
            code,
        )
        if requeue:
            self.requeue(again)
        elif self.tenancy is not None:
            self.tenancy.finished(job)

    def close(self, end: float) -> None:
        """The run ended at ``end``: record the overhead of the runs still going (nothing lost yet)."""
        for job in self.running_jobs.values():
            if job.checkpoint is not None or job.restart_cost:
                self.overhead(job, end)
        if self.network is not None:
            self.network.close(end)


__all__ = ["Runs"]
