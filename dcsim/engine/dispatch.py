"""Applying the scheduler's decisions: the queue, starts, preemptions and batch epochs.

The scheduler (:class:`dcsim.policies.scheduling.Scheduler`) decides; this module asks
it at the right moments and applies what it returns, one decision at a time and in
order: a start allocates GPUs before the next decision is drawn, a preemption loses the
victim's run. A plug-in reads read-only views (:mod:`dcsim.views`) and its placements
are checked; the built-in policies are given the live objects (see the views module).

When it asks: an event-driven scheduler (``epoch`` None) after each arrival (only the
new job can have become startable: the queue's invariant is that after every pass no
job the scheduler would offer fits) and after each event that freed capacity; a batch
scheduler every ``epoch.period`` and ``epoch.delay`` after such events, batched. A batch
scheduler that has no answer (None) or leaves every GPU idle while a queued job fits
hands the epoch to the placement policy's backfill pass, so no job waits forever on an
idle cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import simpy

from dcsim.core.errors import PlacementError
from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.engine.runs import Runs
from dcsim.infra.cluster import Cluster, Placement
from dcsim.policies import PLACEMENT, SCHEDULER
from dcsim.policies.scheduling import PREEMPT_REASONS, KeyOrder, Preempt, Scheduler, scan
from dcsim.views import JobSnapshot, QueueView, cluster_view
from dcsim.workload.jobs import QUEUED, RUNNING, Job
from dcsim.workload.queue import JobQueue


def declares(policy: object, flag: str) -> bool:
    """True if ``policy``'s own class (or a built-in rule) sets ``flag``; subclasses do not inherit it."""
    cls = type(policy)
    return cls in PLACEMENT.builtins() or bool(cls.__dict__.get(flag, False))


class Dispatcher:
    """The queue and the scheduling decisions of one model.

    Args:
        env: the SimPy environment.
        policies: the scenario's ``policies`` block (scheduler and placement, with params).
        seed: the run seed (streams ``policy.scheduler``, ``policy.placement``).
        cluster: the live GPU state.
        runs: the running jobs (starts and preemptions go there).
        settled: called after each decision pass (the engine checks whether the run is over).
    """

    def __init__(
        self, env: simpy.Environment, policies: Any, seed: int, cluster: Cluster, runs: Runs,
        settled: Callable[[], None],
    ) -> None:  # fmt: skip
        self.env, self.cluster, self.runs, self.settled = env, cluster, runs, settled
        sched, plc = policies.scheduler, policies.placement
        self.scheduler_name, self.placement_name = sched.name, plc.name
        policy = SCHEDULER.create(sched.name, sched.params, stream(seed, "policy.scheduler"))
        placement = PLACEMENT.create(plc.name, plc.params, stream(seed, "policy.placement"))
        self.placement = placement
        #: The built-in policies read the live objects; a plug-in reads read-only views.
        self.view = cluster_view(cluster, cluster.running)
        place = guarded(placement, "place", "placement", plc.name, PLACEMENT)
        if type(placement) not in PLACEMENT.builtins():
            view, plain_place = self.view, place
            place = lambda job, _cluster: plain_place(JobSnapshot.of(job), view)  # noqa: E731
        # Shortcuts the built-in placement rules allow (see PlacementPolicy).
        self._trusted = declares(placement, "valid_by_construction")
        class_heads = declares(placement, "uniform_in_class")
        builtin = type(policy) in SCHEDULER.builtins()
        key = guarded(policy, "key", "scheduler", sched.name, SCHEDULER)
        if not builtin:
            plain_key = key
            key = lambda job: plain_key(JobSnapshot.of(job))  # noqa: E731
        if isinstance(policy, Scheduler):
            self.scheduler: Scheduler = policy
            self._decide = guarded(policy, "decide", "scheduler", sched.name, SCHEDULER)
            #: Decisions come from a plug-in: it reads views, its decisions are mapped back and checked.
            self.plugin = not builtin
        else:  # an order: a key and a backfill flag, run by the built-in KeyOrder
            self.scheduler = KeyOrder(key, bool(policy.backfill), place, class_heads)
            self._decide = self.scheduler.decide
            self.plugin = False
        #: What the scheduler reads of the cluster: the live one (built in), or the view (plug-in).
        self._cluster = self.view if self.plugin else cluster
        #: A key order's shortcut for arrivals (see KeyOrder.arrived).
        self._arrived = self.scheduler.arrived if isinstance(self.scheduler, KeyOrder) else None
        self.policy = policy
        self.key = key
        self.place = place
        self.epoch = self.scheduler.epoch
        backfill = isinstance(self.scheduler, KeyOrder) and self.scheduler.class_heads
        self.queue = JobQueue(by_class=backfill)
        self.queue.arrival, self.queue.arrival_first = None, False
        self.queue_view = QueueView(self.queue, None if self.epoch is None else self.epoch.window)
        self._epoch_pending = False
        #: Start times of jobs started by the pass that keeps a batch scheduler work-conserving.
        self.guard_starts: list[float] = []
        #: Preemptions applied, by reason.
        self.preemptions = dict.fromkeys(PREEMPT_REASONS, 0)
        #: Jobs preempted during a pass, queued again after it (the pass may be iterating the queue).
        self._held: list[Job] | None = None

    # ------------------------------------------------------------------ when to decide
    def start_epochs(self) -> None:
        """Start a batch scheduler's periodic epochs."""
        if self.epoch is not None:
            self.env.process(self._periodic_epochs(self.epoch.period))

    def submit(self, job: Job) -> None:
        """Queue a new job and let the scheduler decide on it."""
        queue = self.queue
        first = queue.push(self.key(job), job)
        arrived = self._arrived
        if arrived is not None:  # a key order: its decision on an arrival, without the general protocol
            placement = arrived(job, first, self.cluster)
            if placement is not None:
                if not self._trusted:
                    self.check_placement(job, placement, self.placement_name)
                self.runs.start(job, placement)
                queue.discard(job)
            return
        if self.epoch is not None:
            self._request_epoch()
            return
        queue.arrival, queue.arrival_first = job, first
        try:
            self._apply(self._decide(self._shown(queue), self._cluster, self.env.now), self.plugin)
        finally:
            queue.arrival = None

    def requeue(self, job: Job) -> None:
        """Queue a lost job's next attempt (the caller runs the pass); held back while a pass iterates the queue."""
        if self._held is not None:
            self._held.append(job)
        else:
            self.queue.push(self.key(job), job)

    def schedule(self) -> None:
        """Capacity was freed (or came back): let the scheduler decide, now or at its next epoch."""
        if not len(self.queue):
            return
        if self.epoch is not None:
            self._request_epoch()
            return
        queue = self.queue
        self._apply(
            self._decide(self._shown(queue) if self.plugin else queue, self._cluster, self.env.now), self.plugin
        )

    def _shown(self, queue: JobQueue) -> Any:
        """What the scheduler reads of the queue: the queue itself (built-in), or a fresh view (plug-in)."""
        if not self.plugin:
            return queue
        self.queue_view.refresh(queue.arrival, queue.arrival_first)
        return self.queue_view

    def _periodic_epochs(self, period: float):
        while True:
            yield self.env.timeout(period)
            if len(self.queue) and not self._epoch_pending:
                self._epoch()

    def _request_epoch(self) -> None:
        """Ask for an epoch after the scheduler's ``delay``; requests meanwhile share it."""
        if not self._epoch_pending:
            self._epoch_pending = True
            assert self.epoch is not None
            self.env.timeout(self.epoch.delay).callbacks.append(self._epoch)

    @property
    def pending(self) -> bool:
        """An epoch is asked for and has not run yet."""
        return self._epoch_pending

    def _epoch(self, _event: Any = None) -> None:
        """One batch decision; the backfill pass if the scheduler has no answer or leaves all GPUs idle."""
        self._epoch_pending = False
        queue = self.queue
        if len(queue):
            decisions = self._decide(self._shown(queue), self._cluster, self.env.now)
            if decisions is None:
                self._apply(scan(queue, self.cluster, self.place))
            else:
                self._apply(decisions, self.plugin, once=True)
            if not self.runs.count and len(queue):
                self._apply(scan(queue, self.cluster, self.place))
                self.guard_starts += [self.env.now] * self.runs.count
        self.settled()

    # ------------------------------------------------------------------ applying decisions
    def _apply(self, decisions: Iterable[Any] | None, by_plugin: bool = False, once: bool = False) -> None:
        """Apply decisions in order, each before the next is drawn; then drop the started jobs from the queue.

        ``by_plugin``: they come from a plug-in scheduler (jobs are snapshots, placements are
        checked); ``once``: a job started twice in one pass is the scheduler's error (a batch plan).
        """
        if decisions is None:
            return
        queue, runs = self.queue, self.runs
        started = []
        for decision in decisions:
            if decision.__class__ is Preempt:
                self._preempt(decision)
                continue
            job, placement = decision
            if by_plugin:
                job = self._job_of(job)
                self.check_placement(job, placement, self.scheduler_name)
            else:
                if once and job.state != QUEUED:
                    raise PlacementError(f"scheduler {self.scheduler_name!r} started job {job.id} twice in one epoch")
                if not self._trusted:
                    self.check_placement(job, placement, self.placement_name)
            runs.start(job, placement)
            started.append(job)
        for job in started:  # after the loop: discarding may compact the queue being iterated
            queue.discard(job)
        held = self._held
        if held is not None:
            self._held = None
            for job in held:
                queue.push(self.key(job), job)

    def _job_of(self, shown: Any) -> Job:
        """The queued job behind a plug-in's decision, or PlacementError."""
        job = self.queue_view.job(shown)
        if job is None or job.state != QUEUED:
            what = "a job it was not shown" if job is None else f"job {job.id}, which is not queued"
            raise PlacementError(f"scheduler {self.scheduler_name!r} started {what}")
        return job

    def _preempt(self, decision: Preempt) -> None:
        """Apply a preemption: the victim loses its run (work since its last checkpoint) and is queued again."""
        name = self.scheduler_name
        reason = decision.reason
        if reason not in PREEMPT_REASONS:
            raise PlacementError(f"scheduler {name!r} preempted for {reason!r}; a reason is one of {PREEMPT_REASONS}")
        if not self.scheduler.preempts:
            raise PlacementError(f"scheduler {name!r} preempted a job but does not set preempts = True")
        job = self.runs.running_jobs.get(getattr(decision.job, "id", -1))
        if job is None or job.state != RUNNING:
            raise PlacementError(f"scheduler {name!r} preempted {decision.job!r}, which is not running")
        self.preemptions[reason] += 1
        if self._held is None:
            self._held = []
        job.lose(reason)

    def check_placement(self, job: Job, placement: Placement, name: str) -> None:
        """Refuse a plug-in's placement that does not fit the job or the free GPUs.

        Raises:
            PlacementError: names the policy ``name`` and what is wrong.
        """
        cluster = self.cluster
        problem = None
        try:
            nodes = [n for n, _ in placement]
        except (TypeError, ValueError):
            nodes, problem = [], f"{placement!r}, not a list of (node, GPUs) pairs"
        if problem:
            pass
        elif not placement:
            problem = "an empty placement (return None to leave the job queued)"
        elif sum(g for _, g in placement) != job.gpus:
            problem = f"{sum(g for _, g in placement)} GPUs for a job of {job.gpus}"
        elif len(set(nodes)) != len(nodes):
            problem = f"a node twice in {placement}"
        else:
            for node, gpus in placement:
                if not 0 <= node < len(cluster.free) or cluster.node_pool[node] not in job.pools:
                    problem = f"node {node}, outside the job's pools {list(job.pools)}"
                elif gpus < 1 or cluster.free[node] < gpus:
                    problem = f"{gpus} GPUs on node {node}, which has {cluster.free[node]} free"
                if problem:
                    break
        if problem:
            raise PlacementError(f"policy {name!r} gave job {job.id} {problem}")


__all__ = ["Dispatcher", "declares"]
