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

import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from dcsim.core.errors import DcsimError, PlacementError, PluginError
from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.core.text import cut
from dcsim.engine.runs import Runs
from dcsim.infra.cluster import Cluster, Placement
from dcsim.policies import PLACEMENT, SCHEDULER
from dcsim.policies.scheduling import KeyOrder, Preempt, Resize, Scheduler, scan
from dcsim.views import JobSnapshot, cluster_view, queue_view
from dcsim.workload.jobs import PREEMPT_REASONS, QUEUED, RUNNING, Job
from dcsim.workload.queue import JobQueue

if TYPE_CHECKING:
    from dcsim.engine.tenancy import Tenancy

#: Passes in a row at one instant after preemptions before a scheduler is taken not to settle.
_MAX_REPASSES = 1000


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
        partition: the site a queued job waits for, with a site router (see :class:`JobQueue`).
        tenancy: the tenants' quotas and shares, with a ``tenants`` block (the queue is then a
            :class:`dcsim.engine.tenancy.TenantQueue`, and blocked jobs preempt as ``preemption`` says).
        grace: s a victim of a policy's preemption keeps its GPUs after it is told (``preemption.grace``).
    """

    def __init__(
        self, env: simpy.Environment, policies: Any, seed: int, cluster: Cluster, runs: Runs,
        settled: Callable[[], None], partition: Callable[[Job], int] | None = None,
        tenancy: Tenancy | None = None, grace: float = 0.0,
    ) -> None:  # fmt: skip
        self.env, self.cluster, self.runs, self.settled = env, cluster, runs, settled
        self.tenancy, self.grace = tenancy, grace
        #: Victims told to go, keeping their GPUs until their grace ends, by id (never picked twice).
        self._doomed: dict[int, Job] = {}
        #: The blocked job each told victim's GPUs go to when its grace ends (preemption under tenants).
        self._claims: dict[int, Job] = {}
        sched, plc = policies.scheduler, policies.placement
        self.scheduler_name, self.placement_name = sched.name, plc.name
        policy = SCHEDULER.create(sched.name, sched.params, stream(seed, "policy.scheduler"))
        placement = PLACEMENT.create(plc.name, plc.params, stream(seed, "policy.placement"))
        self.placement = placement
        #: The built-in policies read the live objects; a plug-in reads read-only views.
        self.view = cluster_view(cluster, cluster.running)
        has_place = callable(getattr(placement, "place", None))
        place = guarded(placement, "place", "placement", plc.name, PLACEMENT) if has_place else None
        if place is not None and type(placement) not in PLACEMENT.builtins():
            view, plain_place = self.view, place
            place = lambda job, _cluster: plain_place(JobSnapshot.of(job), view)  # noqa: E731
        if tenancy is not None and any(r and r[0] != 0 for r in tenancy.res):
            place = _within_type_quotas(place, tenancy)
        # Shortcuts the built-in placement rules allow (see PlacementPolicy).
        self._trusted = declares(placement, "valid_by_construction")
        class_heads = declares(placement, "uniform_in_class")
        if not cluster.saturates:  # GPUs are shared: placement by choose on the shares (dcsim.engine.sharing)
            place = self._sharing_place(placement, place, stream(seed, "policy.placement.fallback"))
            self._trusted, class_heads = True, False  # checked there; jobs of a class differ in CPU, memory, share
        builtin = type(policy) in SCHEDULER.builtins()
        key = guarded(policy, "key", "scheduler", sched.name, SCHEDULER)
        if not builtin:
            plain_key = key
            key = lambda job: plain_key(JobSnapshot.of(job))  # noqa: E731
        if hasattr(policy, "use_placement"):  # a scheduler that places at counts of its own (elastic)
            policy.use_placement(place if tenancy is None else _within_quota(place, tenancy))
            if tenancy is not None:
                tenancy.resizes = True  # an elastic job is admitted at a count within its tenant's room
        if isinstance(policy, Scheduler):
            self.scheduler: Scheduler = policy
            self._decide = guarded(policy, "decide", "scheduler", sched.name, SCHEDULER)
            #: Decisions come from a plug-in: it reads views, its decisions are mapped back and checked.
            self.plugin = not builtin
        else:  # an order: a key and a backfill flag, run by the built-in KeyOrder
            backfill = getattr(policy, "backfill", None)
            if not isinstance(backfill, bool):
                raise PluginError(f"scheduler plug-in {sched.name!r} has no backfill attribute (True or False); "
                                  "set it in the class or in __init__")  # fmt: skip
            self.scheduler = KeyOrder(key, backfill, place, class_heads)
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
        if builtin and callable(getattr(policy, "bind_placement", None)):
            # A built-in scheduler that places through the scenario's placement policy (the zoo's)
            # also reads the queue's per-class runs as an index.
            policy.bind_placement(place, class_heads and tenancy is None, cluster)
            backfill = True
        if builtin and tenancy is not None and callable(getattr(policy, "bind_tenancy", None)):
            policy.bind_tenancy(tenancy)  # a backfill keeps its reservations' quota room too
        if builtin and isinstance(getattr(policy, "doomed", None), dict):
            policy.doomed = self._doomed  # a preemptive order does not choose a victim in its grace again
        if builtin and callable(getattr(policy, "run_started", None)):
            runs.watcher = policy  # it indexes the running jobs (estimated ends, attained service)
        self.queue: Any = JobQueue(by_class=backfill, partition=partition)
        #: The scheduler asks to be asked again at a time (``wake_at``, read after each pass).
        self._wakes = builtin and hasattr(policy, "wake_at")
        self._wake = (float("inf"), 0)  # (time of the pending wake-up, its token)
        if tenancy is not None:
            from dcsim.engine.tenancy import TenantQueue
            from dcsim.policies import FAIRNESS

            fair = policies.fairness
            rng = stream(seed, "policy.fairness")
            fairness = None if fair is None else FAIRNESS.create(fair.name, fair.params, rng)
            self.fairness = fairness
            self.queue = TenantQueue(tenancy, None if fairness is None else fairness.key, partition)
            tenancy.doomed = self._doomed
            if isinstance(self.scheduler, KeyOrder):
                self.scheduler.class_heads = False  # a class head may not be admissible: offer the queue in order
        #: A plug-in scheduler's view of the queue, and the engine's own handles on it.
        self.queue_view, self._refresh, self._job_of_shown = queue_view(
            self.queue, None if self.epoch is None else self.epoch.window
        )
        self._epoch_pending = False
        #: Start times of jobs started by the pass that keeps a batch scheduler work-conserving.
        self.guard_starts: list[float] = []
        #: Jobs preempted during a pass, queued again after it (the pass may be iterating the queue).
        self._held: list[Job] | None = None
        #: The scheduler gives freed GPUs to running jobs (elastic): it is asked with an empty queue too.
        self._grows = bool(getattr(policy, "grows", False))
        #: Passes in a row at one instant that preempted (a scheduler that never settles is refused).
        self._repasses = (-1.0, 0)

    def _sharing_place(self, placement: Any, place: Any, rng: Any) -> Any:
        """``place`` where GPUs are shared: :class:`dcsim.engine.sharing.SharingPlacer` over the policy."""
        from dcsim.engine.sharing import SharingPlacer
        from dcsim.policies.placement import FirstFit

        builtin = type(placement) in PLACEMENT.builtins()
        choose = None
        if callable(getattr(placement, "choose", None)):
            choose = guarded(placement, "choose", "placement", self.placement_name, PLACEMENT)
        check = None if builtin else partial(self._check_named, self.placement_name)
        fallback = FirstFit(FirstFit.Params(), rng)
        return SharingPlacer(choose, self.cluster, place, check, fallback, builtin)  # type: ignore[arg-type]

    def _check_named(self, name: str, job: Job, placement: Any) -> Placement:
        return self.check_placement(job, placement, name)

    # ------------------------------------------------------------------ when to decide
    def start_epochs(self) -> None:
        """Start a batch scheduler's periodic epochs."""
        if self.epoch is not None:
            self.env.process(self._periodic_epochs(self.epoch.period))

    def submit(self, job: Job) -> None:
        """Queue a new job and let the scheduler decide on it."""
        queue = self.queue
        first = self._push(job)
        arrived = self._arrived
        tenancy = self.tenancy
        if tenancy is not None and arrived is not None and not self.scheduler.backfill:
            # A strict order under tenants: the arrival may reorder the tenants, so a full (cheap) pass.
            self._apply(self._decide(queue, self._cluster, self.env.now))
            self._reclaim()
            return
        if arrived is not None:  # a key order: its decision on an arrival, without the general protocol
            placement = arrived(job, first, self.cluster) if tenancy is None or tenancy.admits(job) else None
            if placement is not None:
                if not self._trusted:
                    placement = self.check_placement(job, placement, self.placement_name)
                self.runs.start(job, placement)
                queue.discard(job)
            elif tenancy is not None:
                self._reclaim()
            return
        if self.epoch is not None:
            self._request_epoch()
            return
        if tenancy is None:  # under tenants an arrival may reorder the tenants (and may not be admitted): a full pass
            queue.arrival, queue.arrival_first = job, first
        try:
            decisions = self._decide(self._shown(queue), self._cluster, self.env.now)
        finally:
            queue.arrival = None
        self._apply(decisions, self.plugin)
        self._reclaim()

    def requeue(self, job: Job) -> None:
        """Queue a lost job's next attempt (the caller runs the pass); held back while a pass iterates the queue."""
        if self._held is not None:
            self._held.append(job)
        else:
            self._push(job)

    def _push(self, job: Job) -> bool:
        """Queue ``job`` under its key; True if it is now first in line.

        Under tenants no decision reads that (an arrival takes a full pass, or the backfill
        shortcut, which does not ask): the tenant queue queues it without its merge (False).
        """
        queue = self.queue
        if self.tenancy is not None:
            queue.add(self.key(job), job)
            return False
        return queue.push(self.key(job), job)

    def schedule(self) -> None:
        """Capacity was freed (or came back): let the scheduler decide, now or at its next epoch."""
        if not len(self.queue) and not self._grows:
            return
        if self.epoch is not None:
            self._request_epoch()
            return
        self._apply(self._decide(self._shown(self.queue), self._cluster, self.env.now), self.plugin)
        self._reclaim()

    def _shown(self, queue: JobQueue) -> Any:
        """What the scheduler reads of the queue: the queue itself (built-in), or a fresh view (plug-in)."""
        if not self.plugin:
            return queue
        self._refresh(queue.arrival, queue.arrival_first)
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
            self._apply(self._decide(self._shown(queue), self._cluster, self.env.now), self.plugin, once=True)
            if not self.runs.count and len(queue):
                self._apply(scan(queue, self.cluster, self.place))
                self.guard_starts += [self.env.now] * self.runs.count
            self._reclaim()
        self.settled()

    # ------------------------------------------------------------------ applying decisions
    def _apply(self, decisions: Iterable[Any] | None, by_plugin: bool = False, once: bool = False) -> None:
        """Apply decisions in order, each before the next is drawn; then drop the started jobs from the queue.

        None (the scheduler has no answer) hands the decision to the placement policy's
        backfill pass. ``by_plugin``: they come from a plug-in scheduler (jobs are snapshots,
        each decision is checked, and an exception while drawing them names the plug-in);
        ``once``: a job started twice in one pass is the scheduler's error (a batch plan).
        A pass that preempted asks the scheduler again: the victims' GPUs are free.
        """
        if decisions is None:
            decisions, by_plugin = scan(self.queue, self.cluster, self.place), False
        elif by_plugin:
            decisions = self._drawn(decisions)
        queue, runs, tenancy = self.queue, self.runs, self.tenancy
        started = []
        for decision in decisions:
            if decision.__class__ is Preempt:
                if not self._preempt(decision):
                    break  # its victim was told already: the pass waits for the end of its grace
                continue
            if decision.__class__ is Resize:
                self._resize(decision)
                continue
            if by_plugin:
                job, placement = self._start_of(decision)
            else:
                job, placement = decision
                if once and job.state != QUEUED:
                    raise PlacementError(f"scheduler {self.scheduler_name!r} started job {job.id} twice in one epoch")
                if not self._trusted:
                    placement = self.check_placement(job, placement, self.placement_name)
            if tenancy is not None and not tenancy.admits_placement(job, placement):
                continue  # an earlier start of this pass left its tenant no room: it stays queued
            if self._doomed and any(self.cluster.free[n] < g for n, g in placement):
                continue  # GPUs of a victim still in its grace period: the job waits for the end of it
            runs.start(job, placement)
            started.append(job)
        for job in started:  # after the loop: discarding may compact the queue being iterated
            queue.discard(job)
        held = self._held
        if held is not None:
            self._held = None
            for job in held:
                self._push(job)
            self._ask_again()
        if self._wakes:
            self._arm()

    def _arm(self) -> None:
        """Schedule the wake-up the scheduler asks for (``wake_at``), unless one as early is pending.

        One pending wake-up at most: a later one replaces it by its token, so a stale one does nothing.
        """
        at = self.scheduler.wake_at  # type: ignore[attr-defined]
        pending, token = self._wake
        if at is None or at >= pending:
            return
        now = self.env.now
        self._wake = (at, token + 1)
        self.env.timeout(max(at - now, 0.0), token + 1).callbacks.append(self._woken)

    def _woken(self, event: Any) -> None:
        """A wake-up the scheduler asked for: a pass now (a stale one, replaced since, does nothing)."""
        if event.value != self._wake[1]:
            return
        self._wake = (float("inf"), event.value)
        self.schedule()
        self.settled()

    def _drawn(self, decisions: Any) -> Iterator[Any]:
        """A plug-in's decisions, drawn one at a time; what it raises while making them names it."""
        name = self.scheduler_name
        try:
            iterator = iter(decisions)
        except TypeError:
            raise PluginError(
                f"scheduler plug-in {name!r}: decide() returned {cut(repr(decisions), 60)}; return "
                "an iterable of (job, placement) and Preempt(job, reason), or None"
            ) from None
        while True:
            try:
                decision = next(iterator)
            except StopIteration:
                return
            except DcsimError:
                raise
            except Exception as exc:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                raise PluginError(f"scheduler plug-in {name!r} raised {type(exc).__name__}: {exc} (while making "
                                  f"its decisions, {where.filename}:{where.lineno})") from exc  # fmt: skip
            yield decision

    def _start_of(self, decision: Any) -> tuple[Job, Placement]:
        """A plug-in's start decision as (the queued job, its checked placement), or PlacementError."""
        name = self.scheduler_name
        if isinstance(decision, Preempt) or not isinstance(decision, (tuple, list)) or len(decision) != 2:
            raise PlacementError(
                f"scheduler {name!r} decided {cut(repr(decision), 60)}: a decision is (job, "
                "placement) or Preempt(job, reason), as dcsim.policies.scheduling makes it"
            )
        shown, placement = decision
        job = self._job_of(shown)
        return job, self.check_placement(job, placement, name)

    def _ask_again(self) -> None:
        """After a pass that preempted: ask the scheduler again, now (event-driven) or at its next epoch."""
        now = self.env.now
        at, passes = self._repasses
        passes = passes + 1 if at == now else 1
        self._repasses = (now, passes)
        if passes > _MAX_REPASSES:
            raise PlacementError(f"scheduler {self.scheduler_name!r} preempted in {passes} passes in a row at "
                                 f"t={now:g} s without settling; a preemption must free GPUs for a start")  # fmt: skip
        self.schedule()

    def _job_of(self, shown: Any) -> Job:
        """The queued job behind a plug-in's decision, or PlacementError."""
        job = self._job_of_shown(shown)
        if job is None or job.state != QUEUED:
            what = "a job it was not shown" if job is None else f"job {job.id}, which is not queued"
            raise PlacementError(f"scheduler {self.scheduler_name!r} started {what}")
        return job

    def _preempt(self, decision: Preempt) -> bool:
        """Apply a preemption: the victim loses its run (work since its last checkpoint) and is queued again.

        Returns False (nothing done) if the victim was told already and keeps its GPUs to the end of its grace.
        """
        name = self.scheduler_name
        reason = decision.reason
        if reason not in PREEMPT_REASONS:
            raise PlacementError(f"scheduler {name!r} preempted for {reason!r}; a reason is one of {PREEMPT_REASONS}")
        if not self.scheduler.preempts:
            raise PlacementError(f"scheduler {name!r} preempted a job but does not set preempts = True")
        key = getattr(decision.job, "id", None)
        job = self.runs.running_jobs.get(key) if isinstance(key, int) else None
        if job is None or job.state != RUNNING:
            raise PlacementError(f"scheduler {name!r} preempted {cut(repr(decision.job), 60)}, which is not running")
        if job.id in self._doomed:
            return False
        self._evict(job, reason, hold=True)
        return True

    def _evict(self, job: Job, reason: str, hold: bool = False) -> bool:
        """Tell a running job to go: it loses its GPUs now, or after the grace period; True if they are free now.

        A job already told is not told again. ``hold``: a pass is iterating the queue (the
        victim's next attempt is queued after it, and the scheduler asked again).
        """
        if job.id in self._doomed:
            return False
        if self.grace > 0.0:
            self._doomed[job.id] = job
            self.env.timeout(self.grace).callbacks.append(partial(self._grace_over, job, reason))
            return False
        if hold and self._held is None:
            self._held = []
        job.lose(reason)
        return True

    def _grace_over(self, job: Job, reason: str, _event: Any) -> None:
        """A victim's grace period ended: it loses its GPUs now (unless it ended or was lost meanwhile)."""
        del self._doomed[job.id]
        claimant = self._claims.pop(job.id, None)
        lost = job.state == RUNNING
        if lost:
            job.lose(reason)
        if claimant is not None:
            if any(c is claimant for c in self._claims.values()):
                return  # its other victims, told at the same instant, go now too: the GPUs wait for all of them
            self._start_claimant(claimant)
        if lost or claimant is not None:
            self.schedule()
            self.settled()

    def _reclaim(self) -> None:
        """Under tenants with preemption: a queued job of each tenant takes GPUs from the jobs it may preempt.

        The first of the tenant's claimants (:meth:`dcsim.engine.tenancy.TenantQueue.claimants`:
        its highest-priority job, the scheduler's first, the first that would not borrow) that
        cannot be admitted and placed as things stand and whose candidates' GPUs let it (see
        :meth:`dcsim.engine.tenancy.Tenancy.victims`): reclaiming quota its cohort borrowed
        (reason ``quota``), or from its tenant's own jobs of lower priority (``priority``).
        GPUs freed now: the scheduler is asked again.
        """
        tenancy = self.tenancy
        if tenancy is None or not tenancy.preempts or not len(self.queue):
            return
        freed = False
        for i in range(len(tenancy.shares)):
            for job in self.queue.claimants(i):
                victims = tenancy.victims(job, self.cluster, self._fits, self._lost)
                if victims:
                    break
            else:
                continue
            for victim, reason in victims:
                if self._evict(victim, reason):
                    freed = True
                else:
                    self._claims[victim.id] = job
            if victims and not any(c is job for c in self._claims.values()):
                self._start_claimant(job)  # the GPUs go to the job that preempted for them
        if freed:
            self._ask_again()

    def _start_claimant(self, job: Job) -> None:
        """Start the job whose preemptions freed GPUs for it, if it still waits, is admitted and fits."""
        if job.state != QUEUED or not self._fits(job):
            return
        placement = self.place(job, self.cluster)
        if not self._trusted:
            placement = self.check_placement(job, placement, self.placement_name)
        self.runs.start(job, placement)
        self.queue.discard(job)

    def _fits(self, job: Job) -> bool:
        """The job is admitted and placed on the state as it stands."""
        assert self.tenancy is not None
        return self.tenancy.admits(job) and self.place(job, self.cluster) is not None

    def _lost(self, job: Job) -> float:
        """GPU-seconds a running job would lose if preempted now: since its last checkpoint, plus its restart."""
        p = self.runs.progress(job, self.env.now)
        restart = job.checkpoint[2] if job.checkpoint is not None else 0.0
        return job.gpus * ((0.0 if self.runs.save_on_preempt else p.unsaved_wall) + restart)

    def _resize(self, decision: Resize) -> None:
        """Apply a resize: a running elastic job moves to its new placement (checked) at its speed there."""
        name = self.scheduler_name
        key = getattr(decision.job, "id", None)
        job = self.runs.running_jobs.get(key) if isinstance(key, int) else None
        if job is None or job.state != RUNNING or job.elastic is None:
            what = "which is not running" if job is None or job.state != RUNNING else "which is not elastic"
            raise PlacementError(f"scheduler {name!r} resized {cut(repr(decision.job), 60)}, {what}")
        placement = self.check_placement(job, decision.placement, name, dict(job.placement))
        if self.tenancy is not None:  # a grow is admitted as a start: within the tenant's room
            placement = self.tenancy.within_room(job, placement)
            if dict(placement) == dict(job.placement):
                return
        self.runs.resize(job, placement)

    def check_placement(self, job: Job, placement: Any, name: str, held: dict[int, int] | None = None) -> Placement:
        """A plug-in's placement as the engine keeps it (a new list of (int, int) pairs), or PlacementError.

        Refused: anything but (node, GPUs) pairs of whole numbers, an empty placement, the
        wrong number of GPUs (an elastic job's: outside its range), a node twice, a node outside
        the job's pools, more GPUs than the node has free (plus those the job ``held`` there,
        for a resize).

        Raises:
            PlacementError: names the policy ``name`` and what is wrong.
        """
        cluster = self.cluster
        try:
            pairs = [(n, g) for n, g in placement]
        except (TypeError, ValueError):
            pairs = None
        if pairs is None or not all(type(n) is int and type(g) is int for n, g in pairs):
            raise PlacementError(
                f"policy {name!r} gave job {job.id} {cut(repr(placement), 60)}: a placement is a "
                "list of (node, GPUs) pairs of whole numbers, or None to leave the job queued"
            )
        nodes = [n for n, _ in pairs]
        problem = None
        total, elastic = sum(g for _, g in pairs), job.elastic
        held = held or {}
        if not pairs:
            problem = "an empty placement (return None to leave the job queued)"
        elif elastic is not None and not elastic.min_gpus <= total <= elastic.max_gpus:
            problem = f"{total} GPUs for an elastic job of {elastic.min_gpus} to {elastic.max_gpus}"
        elif elastic is None and total != job.gpus:
            problem = f"{total} GPUs for a job of {job.gpus}"
        elif len(set(nodes)) != len(nodes):
            problem = f"a node twice in {pairs}"
        else:
            for node, gpus in pairs:
                if not 0 <= node < len(cluster.free) or cluster.node_pool[node] not in job.pools:
                    problem = f"node {node}, outside the job's pools {list(job.pools)}"
                elif gpus < 1 or cluster.free[node] + held.get(node, 0) < gpus:
                    problem = f"{gpus} GPUs on node {node}, which has {cluster.free[node] + held.get(node, 0)} free"
                    if node in held:
                        problem += f" with the job's {held[node]}"
                if problem:
                    break
        if problem:
            raise PlacementError(f"policy {name!r} gave job {job.id} {problem}")
        return pairs


def _within_quota(place: Callable[[Job, Any], Any], tenancy: Tenancy) -> Callable[[Job, Any], Any]:
    """``place`` for a scheduler that asks at counts of its own (elastic): None for a count beyond the tenant's room."""

    def admitted(job: Any, cluster: Any) -> Any:
        return place(job, cluster) if tenancy.admits(job, job.gpus) else None

    return admitted


def _within_type_quotas(place: Callable[[Job, Any], Any], tenancy: Tenancy) -> Callable[[Job, Any], Any]:
    """``place`` offered only the job's pools of GPU types its tenant has room on (Kueue's flavour fungibility)."""

    def restricted(job: Job, cluster: Any) -> Any:
        if job.__class__ is not Job and hasattr(job, "service"):  # a service replica: not held to its tenant's quota
            return place(job, cluster)
        allowed = tenancy.allowed_pools(job)
        if allowed == job.pools:
            return place(job, cluster)
        if not allowed:
            return None
        pools = job.pools
        job.pools = allowed
        try:
            return place(job, cluster)
        finally:
            job.pools = pools

    return restricted


__all__ = ["Dispatcher", "declares"]
