"""Inference services: replicas that hold GPUs, requests routed to them, and autoscaling.

A replica is a *holder* of GPUs like a job's run (it has a ``placement`` and ``lose(reason,
failure)``), placed by the scenario's placement policy on the same nodes as training, so
failures and maintenance take it down as they take jobs down. Where GPUs are shared it carries
a demand (its service's ``cpu``, ``memory``, ``gpu_fraction``) and holds slots as a job does
(:mod:`dcsim.engine.sharing`); on a share it serves at full speed. Requests are the hot path:
no process per request. Each service has one SimPy process submitting its requests; a
replica of a ``time`` service model serves ``concurrency`` requests at once, first come
first served, each with one end event; a replica of a token model holds up to
``max_batch`` requests, runs their prefills one at a time, and decodes the batch on a
virtual clock (tokens emitted per request so far), so that a change of batch size settles
the clock and moves one pending event, O(log batch), whatever the batch.

Replica states: ``PENDING`` (asked for, not placed: no GPUs free), ``STARTING`` (holds its
GPUs, loads the model), ``READY`` (serves), ``DRAINING`` (scaled down: takes no new request,
finishes those it has, then gives its GPUs back) and ``GONE``. A service keeps its count of
replicas: one lost to a failure or an eviction is replaced at once (as a Kubernetes
Deployment does), cold start included.

A service with ``sites`` is a :class:`GeoService`: one :class:`ServiceRun` per site (its
replicas on that site's pools, its own autoscaler and load balancer) and a geo load balancer
(:mod:`dcsim.policies.geo`) that chooses the site of each request; the round trip between
the request's origin and that site is added to its latency. See docs/background.md,
"Serving" and "Services in several sites".
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.engine.sharing import replica_demand
from dcsim.engine.storage import READS
from dcsim.metrics.collector import Collector
from dcsim.metrics.records import REPLICA_CHANGES, REQUEST_STATUS
from dcsim.scenario.events import arrival_windows
from dcsim.workload.jobs import RUNNING, Job
from dcsim.workload.requests import request_chunks
from dcsim.workload.service_spec import Service

if TYPE_CHECKING:
    from dcsim.engine.dispatch import Dispatcher
    from dcsim.engine.runs import Runs
    from dcsim.engine.storage import Storage
    from dcsim.infra.cluster import Cluster, Placement
    from dcsim.infra.sites import SiteTimes
    from dcsim.infra.topology import Topology

REPLICA_ID_BASE = 1 << 40
"""Replica ids start here: they never meet a job's id among a node's holders."""

PENDING, STARTING, READY, DRAINING, GONE = range(5)
STATE_NAMES = ("pending", "starting", "ready", "draining", "gone")

COMPLETED_REQ, REJECTED, FAILED_REQ, UNFINISHED = (
    REQUEST_STATUS.index(s) for s in ("completed", "rejected", "failed", "unfinished")
)
REQUESTED, PLACED, MADE_READY, DRAINED, STOPPED, LOST = (
    REPLICA_CHANGES.index(c) for c in ("requested", "placed", "ready", "draining", "stopped", "lost")
)
_NAN = math.nan


def _nothing() -> None:
    """Settle nothing (a service without an autoscaler keeps no metric integrals)."""


class Request:
    """One request: what a load balancer reads (:class:`dcsim.policies.balancing.RequestView`) and its progress."""

    __slots__ = (
        "first_token", "id", "input_tokens", "origin", "output_tokens", "replica", "retried", "rtt", "session", "time",
        "work",
    )  # fmt: skip

    def __init__(self, id: int, time: float, session: int, input_tokens: int, output_tokens: int, work: float) -> None:
        self.id = id
        self.time = time
        self.session = session
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.work = work  # run time on the reference GPU (a `time` model)
        self.first_token = _NAN
        self.replica: Replica | None = None
        self.retried = False
        self.origin = -1  # the site its user is at (a service with `sites`; -1: not modelled)
        self.rtt = 0.0  # round trip between its origin and the site serving it, added to its latency


class ReadyReplicas(list):
    """The ready replicas of a service, in id order; ``version`` moves whenever the set changes."""

    version = 0


class Replica:
    """One replica of a service: a holder of GPUs that serves requests.

    It has the fields a placement policy reads of a job (:class:`dcsim.views.JobView`), so
    any placement policy places it; a load balancer reads ``id``, ``outstanding`` and ``speed``.
    """

    __slots__ = (
        "batch",
        "busy",
        "checkpoint",
        "communication",
        "decoding",
        "demand",
        "estimate",
        "expected_duration",
        "gpus",
        "heap",
        "id",
        "index",
        "job_class",
        "outstanding",
        "placement",
        "pools",
        "prefill_busy",
        "prefilling",
        "priority",
        "rate",
        "restarts",
        "searched",
        "service",
        "serving",
        "site",
        "slots",
        "speed",
        "speeds",
        "start_time",
        "state",
        "step",
        "submit_time",
        "tenant",
        "token",
        "vclock",
        "vtime",
        "waiting",
    )  # fmt: skip

    def __init__(self, service: ServiceRun, index: int, now: float) -> None:
        spec = service.spec
        self.service = service
        self.index = index
        self.id = REPLICA_ID_BASE + service.id_offset + index
        self.job_class = f"service:{spec.name}"
        self.tenant = spec.tenant
        self.priority = spec.priority
        self.gpus = spec.gpus_per_replica
        self.pools = service.pools
        self.speeds = service.speeds
        self.estimate = self.expected_duration = math.inf
        self.submit_time = now
        self.restarts = 0
        self.searched = False  # it looked for training jobs to preempt (once)
        self.checkpoint = None
        self.communication = None
        self.start_time = -1.0
        self.rate = 1.0
        self.state = PENDING
        self.placement: list[tuple[int, int]] = []
        #: Where GPUs are shared: its CPU, memory and GPUs (or share of one), and once placed the slots it holds.
        self.demand = service.demand
        self.slots: tuple[Any, ...] | None = None
        self.site = -1  # the site of its first node, once placed
        self.speed = 1.0
        self.outstanding = 0  # requests waiting on it plus those it serves
        self.waiting: deque[Request] = deque()
        self.serving: set[Request] = set()  # a `time` model's requests in service
        self.busy = 0
        # A token model: the batch (prefill and decode), the prefill queue, the decode virtual clock.
        self.batch = 0
        self.prefilling: deque[Request] = deque()
        self.prefill_busy: Request | None = None
        self.decoding = 0
        self.vclock = 0.0  # tokens each decoding request has emitted since the clock began
        self.vtime = 0.0  # when vclock was settled
        self.step = 0.0  # a decode step with one request in the batch, s (per_token / speed)
        self.heap: list[tuple[float, int, Request, int]] = []
        self.token = 0

    def lose(self, reason: str, failure: Any = None) -> None:
        """Go down now (a failure, an eviction): see :meth:`ServiceRun.lose`."""
        self.service.lose(self, reason, failure)

    def __repr__(self) -> str:
        return f"Replica({self.service.spec.name}#{self.index}, {STATE_NAMES[self.state]})"


class ReplicaSnapshot(NamedTuple):
    """A replica as a plug-in load balancer sees it: its fields, frozen."""

    id: int
    outstanding: int
    speed: float


class RequestSnapshot(NamedTuple):
    """A request as a plug-in load balancer sees it."""

    id: int
    session: int
    input_tokens: int
    output_tokens: int
    time: float


class _SnapshotSet(tuple):  # type: ignore[type-arg]
    """The ready replicas as snapshots, with the live set's ``version``."""

    version = 0


def _snapshot_picks(pick: Callable[..., Any], name: str) -> Callable[[Request, ReadyReplicas], Replica]:
    """A plug-in's ``pick`` on snapshots (O(replicas) per request), its answer mapped back to the live replica.

    Raises (from the wrapper):
        PlacementError: the plug-in returned something that is not one of the snapshots it was given.
    """
    from dcsim.core.errors import PlacementError

    def wrapper(req: Request, ready: ReadyReplicas) -> Replica:
        shown = _SnapshotSet(ReplicaSnapshot(r.id, r.outstanding, r.speed) for r in ready)
        shown.version = ready.version
        got = pick(RequestSnapshot(req.id, req.session, req.input_tokens, req.output_tokens, req.time), shown)
        for r, snap in zip(ready, shown, strict=True):
            if got is snap or (isinstance(got, ReplicaSnapshot) and got == snap):
                return r
        raise PlacementError(f"load balancer {name!r} returned {got!r}, which is not one of the ready replicas")

    return wrapper


class ScalerView:
    """What an autoscaler reads of a service (:class:`dcsim.policies.autoscaling.ServiceView`)."""

    __slots__ = ("_run", "max", "min", "name")

    def __init__(self, run: ServiceRun) -> None:
        self._run = run
        self.name = run.spec.name
        self.min, self.max = run.counts_spec.min, run.counts_spec.max

    @property
    def replicas(self) -> int:
        """Replicas asked for: ready, starting and not yet placed (draining ones not); the whole fleet's."""
        return self._run.full(self._run.current)

    @property
    def ready(self) -> int:
        """Replicas serving (the whole fleet's)."""
        return self._run.full(len(self._run.ready))

    def total(self, metric: str) -> float:
        """The service-wide total of ``metric`` over the last sync period (time averages; see the autoscaler kind).

        With ``sample`` < 1, the sampled fleet's total over the share: the whole fleet's estimate.
        """
        return self._run.window_totals[metric] / self._run.share


class _Arrivals:
    """A service's request arrivals: each schedules the next (no process, no generator per request).

    The class using it sets ``spec``, ``s`` (the :class:`Services`), ``env``, ``arrived`` and ``number`` (its
    position among the scenario's services, whose rate windows timed events set), and
    defines ``arrival(request)``.
    """

    spec: Service
    s: Services
    env: simpy.Environment
    arrived: int
    number: int

    def arrival(self, req: Request) -> None:
        raise NotImplementedError

    def _start_arrivals(self) -> None:
        """Schedule the first request."""
        s = self.s
        self._chunks = request_chunks(self.spec, s.seed, s.horizon, s.base_dir, s.windows.get(self.number))
        self._times: list[float] = []
        self._k = 0
        self._next_arrival()

    def _chunk_read(self, n: int) -> None:
        """A chunk of ``n`` requests was read (a service with sites draws their origins)."""

    def _next_arrival(self) -> None:
        """Schedule the arrival of the next request, reading the next chunk when this one is used up."""
        if self._k >= len(self._times):
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            n = len(chunk.times)
            self._times = chunk.times
            self._sessions = chunk.sessions or [-1] * n
            self._inp = chunk.input_tokens or [0] * n
            self._out = chunk.output_tokens or [0] * n
            self._work = chunk.work or [0.0] * n
            self._k = 0
            self._chunk_read(n)
        env = self.env
        delay = self._times[self._k] - env.now
        env.timeout(delay if delay > 0.0 else 0.0).callbacks.append(self._arrive)

    def _arrive(self, _event: Any) -> None:
        k = self._k
        self._k = k + 1
        req = Request(self.arrived, self.env.now, self._sessions[k], self._inp[k], self._out[k], self._work[k])
        self.arrival(req)
        self._next_arrival()


class ServiceRun(_Arrivals):
    """One service in one run (or its part in one site): its replicas, its requests and its policies.

    Args:
        services: the engine's services (shared wiring: environment, cluster, collector ...).
        spec: the service's block of the scenario.
        number: its position among the scenario's services.
        geo: the service with ``sites`` this is the part of (in site ``site``), which routes the requests.
        site: the site (index in ``datacenter.sites``) of a service with ``sites``.
    """

    def __init__(
        self, services: Services, spec: Service, number: int, geo: GeoService | None = None, site: int = -1
    ) -> None:
        from dcsim.policies.autoscaling import AUTOSCALER
        from dcsim.policies.balancing import LOAD_BALANCER

        self.s = services
        self.spec = spec
        self.number = number
        self.geo = geo
        self.site = site
        #: Its replica bounds and start: the service's, or its site's (``replicas.per_site``).
        self.counts_spec = spec.replicas_at(services.topology.site_names[site] if geo is not None else None)
        self.env = env = services.env
        self.col = services.collector
        self.code = self.col.service_code(spec.name)
        self.id_offset = number << 32
        topology = services.topology
        self.pools = topology.allowed_pools(spec.gpu_types, spec.min_gpu_memory)
        self.speeds = topology.pool_rates(self.pools, spec.speed, spec.speed_reference)
        #: Each replica's demand where GPUs are shared (placed and held as a job's: dcsim.engine.sharing).
        self.demand = replica_demand(spec) if not services.cluster.saturates else None
        seed = services.seed
        lb = spec.load_balancer
        lb_name, lb_params, suffix = lb.name, lb.params, ""
        if geo is not None:  # the replica within this site: the geo balancer's `local` one
            site_name = topology.site_names[site]
            self.pools = tuple(p for p in self.pools if topology.pools[p].site == site_name)
            lb_name = getattr(geo.policy.params, "local", "least_outstanding")
            lb_params = getattr(geo.policy.params, "local_params", {})
            suffix = f".{site_name}"
        policy = LOAD_BALANCER.create(lb_name, lb_params, stream(seed, f"policy.load_balancer.{spec.name}{suffix}"))
        self.balancer = policy
        self.pick = guarded(policy, "pick", "load_balancer", lb_name, LOAD_BALANCER)
        if type(policy) not in LOAD_BALANCER.builtins():  # a plug-in reads snapshots, never the live replicas
            self.pick = _snapshot_picks(self.pick, lb_name)
        scaler = spec.autoscaler
        self.autoscaler = AUTOSCALER.create(
            scaler.name, scaler.params, stream(seed, f"policy.autoscaler.{spec.name}{suffix}")
        )
        self.desired = guarded(self.autoscaler, "desired", "autoscaler", scaler.name, AUTOSCALER)
        self.sync_period = float(getattr(self.autoscaler, "sync_period", math.inf))
        self.view = ScalerView(self)
        model = spec.service_model
        self.tokens = model.tokens
        self.concurrency = model.concurrency
        self.prefill = float(model.prefill) if model.prefill is not None else 0.0
        decode = model.decode
        self.per_token = decode.per_token if decode is not None else 0.0
        self.max_batch = decode.max_batch if decode is not None else 1
        self.penalty = decode.batch_penalty if decode is not None else 0.0
        #: A busy slot (or batch place) is this share of a replica, for the `utilization` metric.
        self.unit = 1.0 / (self.max_batch if self.tokens else self.concurrency)
        self.limit = spec.queue_limit if spec.queue_limit is not None else math.inf
        self.retry = spec.on_replica_loss == "retry"
        self.replicas: dict[int, Replica] = {}  # every replica not gone, by index
        #: Cordoned replicas serving on until their replacements are ready: replacement index -> replica.
        self._moves: dict[int, Replica] = {}
        self._leaving: set[int] = set()
        self.ready = ReadyReplicas()
        self.pending: deque[Replica] = deque()
        self.buffer: deque[Request] = deque()  # requests waiting for any ready replica
        self.next_index = 0
        self.arrived = 0
        self.inflight = 0  # requests waiting or in service, the buffer's included
        self.waiting = 0  # requests waiting (in replica queues and the buffer)
        self.busy = 0.0  # sum over replicas of their busy share
        # Time integrals since the last sync, for the autoscaler's metrics.
        self._since = 0.0
        self._areas = [0.0, 0.0, 0.0]  # in flight, busy, waiting
        self._arrived_at_sync = 0
        self.window_totals = {"utilization": 0.0, "concurrency": 0.0, "request_rate": 0.0, "queue_length": 0.0}
        self._record = self.col.on_request
        #: The share of the requests and replicas simulated (``sample``; 1: all of them).
        self.share = spec.sample
        for _ in range(self.scaled(self.counts_spec.start)):
            self._request(ready_now=True)
        if geo is None:  # else the service with sites brings the requests
            self._start_arrivals()
        if self.sync_period < math.inf:
            env.process(self._sync())
        else:  # no autoscaler reads the metric integrals: keep none
            self._settle = _nothing  # type: ignore[method-assign]

    # ------------------------------------------------------------------ counts
    def scaled(self, n: int) -> int:
        """The sampled fleet's count for ``n`` replicas of the whole (at least 1 for n >= 1; rounded half up)."""
        if self.share == 1.0 or n <= 0:
            return max(n, 0)
        return max(1, math.floor(n * self.share + 0.5))

    def full(self, n: int | float) -> int:
        """The whole fleet's count for ``n`` of the sampled fleet (or of its requests)."""
        return int(n) if self.share == 1.0 else math.floor(n / self.share + 0.5)

    @property
    def current(self) -> int:
        """Replicas asked for: pending, starting and ready (not those draining, or serving on until replaced)."""
        leaving = self._leaving
        return sum(1 for r in self.replicas.values() if r.state != DRAINING and r.index not in leaving)

    def _settle(self) -> None:
        """Add the time since the last change to the metric integrals."""
        now = self.env.now
        dt = now - self._since
        if dt > 0.0:
            a = self._areas
            a[0] += self.inflight * dt
            a[1] += self.busy * dt
            a[2] += self.waiting * dt
        self._since = now

    # ------------------------------------------------------------------ requests
    def arrival(self, req: Request) -> None:
        """A request arrives: to a ready replica the load balancer picks, or to the buffer while none is ready."""
        self.arrived += 1
        self._settle()
        ready = self.ready
        if ready:
            self.send(req, self.pick(req, ready))
            return
        if len(self.buffer) >= self.limit:
            self._record(self.code, req.time, _NAN, self.env.now, -1, REJECTED, req.retried, self.site, req.origin)
            return
        self.buffer.append(req)
        self.inflight += 1
        self.waiting += 1

    def send(self, req: Request, r: Replica) -> None:
        """Give a request to replica ``r``: into service if it has room, else into its queue (or rejected)."""
        if r.state != READY:
            raise RuntimeError(f"load balancer {self.spec.load_balancer.name!r} picked {r!r}, which is not ready")
        req.replica = r
        if self.tokens:
            if r.batch < self.max_batch:
                r.outstanding += 1
                self.inflight += 1
                self._admit(r, req)
                return
        elif r.busy < self.concurrency:
            r.outstanding += 1
            self.inflight += 1
            r.busy += 1
            self.busy += self.unit
            self._serve(r, req)
            return
        if len(r.waiting) >= self.limit:
            req.replica = None
            self._record(self.code, req.time, _NAN, self.env.now, r.index, REJECTED, req.retried, r.site, req.origin)
            return
        r.outstanding += 1
        self.inflight += 1
        self.waiting += 1
        r.waiting.append(req)

    def _end(self, r: Replica, req: Request) -> None:
        """A request is served: record it, and let the replica take its next."""
        now = self.env.now
        self._settle()
        rtt = req.rtt  # the response travels back to its user (0 within a site, and for a service without sites)
        self._record(self.code, req.time, req.first_token + rtt, now + rtt, r.index, COMPLETED_REQ, req.retried, r.site,
                     req.origin)  # fmt: skip
        req.replica = None
        r.outstanding -= 1
        self.inflight -= 1
        if r.waiting:
            nxt = r.waiting.popleft()
            self.waiting -= 1
            if self.tokens:
                r.batch -= 1
                self.busy -= self.unit
                self._admit(r, nxt)
            else:
                self._serve(r, nxt)
        elif self.tokens:
            r.batch -= 1
            self.busy -= self.unit
        else:
            r.busy -= 1
            self.busy -= self.unit
        if r.state == DRAINING and not r.outstanding:
            self._stop(r, STOPPED)

    # a `time` model: `concurrency` servers, first come first served
    def _serve(self, r: Replica, req: Request) -> None:
        r.serving.add(req)
        self.env.timeout(req.work / r.speed, (r, req)).callbacks.append(self._served)

    def _served(self, event: Any) -> None:
        r, req = event.value
        if req.replica is not r or r.state == GONE:
            return  # its replica was lost: the request was retried or failed then
        r.serving.discard(req)
        self._end(r, req)

    # a token model: prefill one at a time, then decode on the batch's virtual clock
    def _admit(self, r: Replica, req: Request) -> None:
        """Take a request into the batch: to the prefill queue, or straight to decode without a prefill."""
        r.batch += 1
        self.busy += self.unit
        if self.prefill > 0.0:
            if r.prefill_busy is None:
                r.prefill_busy = req
                self.env.timeout(req.input_tokens / (self.prefill * r.speed), (r, req)).callbacks.append(
                    self._prefilled
                )
            else:
                r.prefilling.append(req)
        else:
            self._decode(r, req, req.output_tokens, True)

    def _prefilled(self, event: Any) -> None:
        """A prefill ends: its request has its first token and decodes the rest; the next prefill begins."""
        r, req = event.value
        if r.prefill_busy is not req or req.replica is not r:
            return  # stale: its replica was lost
        req.first_token = self.env.now
        if r.prefilling:
            nxt = r.prefill_busy = r.prefilling.popleft()
            self.env.timeout(nxt.input_tokens / (self.prefill * r.speed), (r, nxt)).callbacks.append(self._prefilled)
        else:
            r.prefill_busy = None
        if req.output_tokens <= 1:
            self._end(r, req)
        else:
            self._decode(r, req, req.output_tokens - 1, False)

    def _decode(self, r: Replica, req: Request, tokens: int, first: bool) -> None:
        """Start decoding ``tokens`` tokens of ``req`` (``first``: its first token comes from decode).

        The batch's virtual clock counts the tokens each decoding request has emitted: it runs
        at one token per step, a step taking ``step * (1 + penalty * (batch - 1))``. A request
        is done when the clock reaches its target; a change of batch settles the clock and
        moves the one pending event to the earliest target.
        """
        now = self.env.now
        n = r.decoding
        if n:
            r.vclock += (now - r.vtime) / (r.step * (1.0 + self.penalty * (n - 1)))
        r.vtime = now
        r.decoding = n + 1
        if first:  # a milestone at one token (its time to first token), then the rest
            heapq.heappush(r.heap, (r.vclock + 1.0, req.id, req, tokens - 1))
        else:
            heapq.heappush(r.heap, (r.vclock + tokens, req.id, req, -1))
        r.token += 1
        heap = r.heap
        wall = (heap[0][0] - r.vclock) * r.step * (1.0 + self.penalty * n)
        self.env.timeout(wall if wall > 0.0 else 0.0, (r, r.token)).callbacks.append(self._decoded)

    def _decoded(self, event: Any) -> None:
        """The batch reached a request's first token or its last."""
        r, token = event.value
        if token != r.token:
            return
        now = self.env.now
        heap = r.heap
        penalty = self.penalty
        n = r.decoding
        v = r.vclock + (now - r.vtime) / (r.step * (1.0 + penalty * (n - 1)))
        r.vclock, r.vtime = v, now
        edge = v + 1e-9 * (v if v > 1.0 else 1.0)
        while heap and heap[0][0] <= edge:
            target, _, req, more = heapq.heappop(heap)
            if more >= 0:  # its first token
                req.first_token = now
                if more > 0:
                    heapq.heappush(heap, (target + more, req.id, req, -1))
                    continue
            r.decoding -= 1
            self._end(r, req)  # may admit a waiting request, which may join the decode at once
        if heap and r.state != GONE:
            r.token += 1
            n = r.decoding
            wall = (heap[0][0] - r.vclock) * r.step * (1.0 + penalty * (n - 1))
            self.env.timeout(wall if wall > 0.0 else 0.0, (r, r.token)).callbacks.append(self._decoded)

    def _requests_on(self, r: Replica) -> list[Request]:
        """Every request the replica holds, in arrival order."""
        held = list(r.waiting) + list(r.serving) + list(r.prefilling)
        if r.prefill_busy is not None:
            held.append(r.prefill_busy)
        held += [entry[2] for entry in r.heap]
        return sorted(held, key=lambda q: q.id)

    # ------------------------------------------------------------------ replicas
    def _request(self, ready_now: bool = False, now: bool = True) -> Replica:
        """Ask for one more replica; place it at once if GPUs are free (``now``), else leave it pending.

        A replacement asked for while a failure or maintenance is taking holders down waits
        (``now`` False) for the engine's next placement pass, which comes right after.
        """
        r = Replica(self, self._new_index(), self.env.now)
        self.replicas[r.index] = r
        self.col.on_replica_change(self.env.now, self.code, r.index, REQUESTED, -1, r.gpus)
        if not now or not self.s.try_place(r, ready_now):
            self.pending.append(r)
        return r

    def _new_index(self) -> int:
        """The next replica index (a service with sites numbers the replicas of all its sites in one sequence)."""
        if self.geo is not None:
            i = self.geo.next_index
            self.geo.next_index = i + 1
            return i
        i = self.next_index
        self.next_index = i + 1
        return i

    def placed(self, r: Replica, placement: Placement, ready_now: bool) -> None:
        """A replica got its GPUs: it cold-starts (or is ready at once, at the start of the run)."""
        cluster = self.s.cluster
        r.placement = placement
        r.site = self.s.topology.node_site[placement[0][0]]
        r.state = STARTING
        r.start_time = self.env.now
        r.speed = min(self.speeds[cluster.node_pool[n]] for n, _ in placement) if self.speeds is not None else 1.0
        r.step = self.per_token / r.speed
        self.col.on_replica_change(self.env.now, self.code, r.index, PLACED, placement[0][0], r.gpus)
        spec = self.spec
        if ready_now:
            self._ready(r)
        elif spec.cold_start is not None or not spec.model.size:
            delay = spec.cold_start or 0.0
            if delay > 0.0:
                self.env.timeout(delay, (r, r.start_time)).callbacks.append(self._loaded)
            else:
                self._ready(r)
        else:
            storage = self.s.storage
            assert storage is not None  # the engine builds it for a service whose cold start loads its model
            storage.transfer(("model", r.id), spec.model.size, [n for n, _ in placement], lambda: self._ready(r),
                             kind=READS)  # fmt: skip

    def _loaded(self, event: Any) -> None:
        r, started = event.value
        if r.state == STARTING and r.start_time == started:
            self._ready(r)

    def _ready(self, r: Replica) -> None:
        """A replica starts serving; requests buffered while none was ready go to the ready ones."""
        if r.state != STARTING:
            return
        self._settle()
        r.state = READY
        r.vtime = self.env.now
        ready = self.ready
        ready.append(r)
        ready.sort(key=lambda x: x.index)
        ready.version += 1
        self.col.on_replica_change(self.env.now, self.code, r.index, MADE_READY, r.placement[0][0], r.gpus)
        if self.geo is not None:
            self.geo.drain()  # what waited for a ready replica anywhere, through the geo balancer
        else:
            while self.buffer and ready:
                req = self.buffer.popleft()
                self.inflight -= 1
                self.waiting -= 1
                self.send(req, self.pick(req, ready))
        if self._moves:
            self._moved(r)

    def _unready(self, r: Replica) -> None:
        if r.state == READY:
            self.ready.remove(r)
            self.ready.version += 1

    def scale_to(self, n: int) -> None:
        """Ask for ``n`` replicas: more are placed (or wait for GPUs), or fewer are kept.

        Fewer: the unplaced go first, then the starting ones, then the ready replicas with the
        fewest requests drain.
        """
        current = self.current
        for _ in range(n - current):
            self._request()
        extra = current - n
        if extra <= 0:
            return
        while extra and self.pending:
            r = self.pending.pop()
            r.state = GONE
            del self.replicas[r.index]
            self.col.on_replica_change(self.env.now, self.code, r.index, STOPPED, -1, r.gpus)
            if self._moves:
                self._moved(r)  # a cordoned replica's replacement: that one drains now
            extra -= 1
        starting = sorted((r for r in self.replicas.values() if r.state == STARTING), key=lambda x: -x.index)
        for r in starting[:extra]:
            self._stop(r, STOPPED)
            extra -= 1
        ready = sorted((x for x in self.ready if x.index not in self._leaving), key=lambda x: (x.outstanding, -x.index))
        for r in ready[:extra]:
            self._drain(r)

    def _stop(self, r: Replica, change: int) -> None:
        """The replica gives its GPUs back (scaled down and empty, or lost)."""
        if r.state == STARTING and self.s.storage is not None:
            self.s.storage.cancel(("model", r.id))
        self._unready(r)
        r.state = GONE
        r.token += 1
        del self.replicas[r.index]
        self.col.on_replica_change(self.env.now, self.code, r.index, change, r.placement[0][0], r.gpus)
        if self._moves:
            self._moved(r)  # a replacement gone before it was ready: its cordoned replica drains now
            if r.index in self._leaving:  # a cordoned replica gone first: its replacement just stays
                self._leaving.discard(r.index)
                self._moves = {k: v for k, v in self._moves.items() if v is not r}
        self.s.release(r, notify=change == STOPPED)

    def lose(self, r: Replica, reason: str, failure: Any = None) -> None:
        """A failure or an eviction takes it down: a replacement is asked for, its requests retried or failed."""
        if r.state in (GONE, PENDING):
            return
        self._settle()
        draining = r.state == DRAINING or r.index in self._leaving  # its replacement is asked for already
        held = self._requests_on(r)
        r.waiting.clear()
        r.serving.clear()
        r.prefilling.clear()
        r.prefill_busy = None
        r.heap.clear()
        self.busy -= self.unit * (r.batch if self.tokens else r.busy)
        r.busy = r.batch = r.decoding = 0
        r.outstanding = 0
        self._stop(r, LOST)
        if not draining:
            self._request(now=False)  # its replacement, cold start and all
        now = self.env.now
        for req in held:
            self.inflight -= 1
            req.replica = None
            if self.retry and not req.retried:
                req.retried = True
                req.first_token = _NAN
                if self.geo is not None:
                    self.geo.route(req, again=True)  # perhaps to another site
                else:
                    self.resend(req)
            else:
                self._record(self.code, req.time, req.first_token, now, r.index, FAILED_REQ, req.retried, r.site,
                             req.origin)  # fmt: skip
        self.waiting = len(self.buffer) + sum(len(x.waiting) for x in self.replicas.values())

    def resend(self, req: Request) -> None:
        """Send a request again (its replica was lost, or it waited): to a ready replica, the buffer, or refused."""
        if self.ready:
            self.send(req, self.pick(req, self.ready))
        elif len(self.buffer) < self.limit:
            self.buffer.append(req)
            self.inflight += 1
            self.waiting += 1
        else:
            self._record(self.code, req.time, _NAN, self.env.now, -1, REJECTED, req.retried, self.site, req.origin)

    def cordoned(self, r: Replica) -> None:
        """Its node is drained for maintenance: a replacement is asked for; it serves on until that is ready.

        Then it drains (no new requests; it gives its GPUs back when empty), as a Kubernetes
        drain that respects a disruption budget of one. A replica still starting stops at once.
        If the replacement goes before it is ready, the replica drains then.
        """
        if r.state not in (STARTING, READY) or r.index in self._leaving:
            return
        new = self._request(now=False)
        if r.state == STARTING:
            self._stop(r, STOPPED)
            return
        self._leaving.add(r.index)
        self._moves[new.index] = r

    def _drain(self, r: Replica) -> None:
        """Stop sending it requests; it gives its GPUs back once its last one is done."""
        if r.state != READY:
            return
        self._unready(r)
        r.state = DRAINING
        self._leaving.discard(r.index)
        self.col.on_replica_change(self.env.now, self.code, r.index, DRAINED, r.placement[0][0], r.gpus)
        if not r.outstanding:
            self._stop(r, STOPPED)

    def _moved(self, new: Replica) -> None:
        """A replacement for a cordoned replica is ready, or gone before it was: the cordoned one drains."""
        old = self._moves.pop(new.index, None)
        if old is not None:
            self._drain(old)

    # ------------------------------------------------------------------ autoscaling
    def _sync(self) -> Iterator[simpy.Event]:
        """Every sync period: the metrics over it, the autoscaler's answer, the change."""
        env = self.env
        period = self.sync_period
        lo, hi = self.counts_spec.min, self.counts_spec.max
        totals = self.window_totals
        while True:
            yield env.timeout(period)
            self._settle()
            a = self._areas
            totals["concurrency"] = a[0] / period
            totals["utilization"] = a[1] / period
            totals["queue_length"] = a[2] / period
            totals["request_rate"] = (self.arrived - self._arrived_at_sync) / period
            self._areas = [0.0, 0.0, 0.0]
            self._arrived_at_sync = self.arrived
            current = self.current
            wanted = int(self.desired(self.view, env.now))
            applied = min(max(wanted, lo), hi)
            self.col.on_scale_decision(
                env.now, self.code, self.full(current), self.full(len(self.ready)), wanted, applied, self.site
            )
            target = self.scaled(applied)
            if target != current:
                self.scale_to(target)

    def close(self, end: float) -> None:
        """The run ends: record the requests still in flight (status ``unfinished``)."""
        held = list(self.buffer)
        for r in self.replicas.values():
            held += self._requests_on(r)
        for req in sorted(held, key=lambda q: q.id):
            replica, site = (req.replica.index, req.replica.site) if req.replica is not None else (-1, -1)
            self._record(self.code, req.time, req.first_token, end, replica, UNFINISHED, req.retried, site, req.origin)

    def counts(self) -> list[int]:
        """Replicas asked for (pending, starting, ready), ready, starting, pending; requests in flight, arrived."""
        counts = [0] * 5
        for r in self.replicas.values():
            counts[r.state] += 1
        full = self.full
        return [
            full(counts[PENDING] + counts[STARTING] + counts[READY]), full(counts[READY]), full(counts[STARTING]),
            full(counts[PENDING]), full(self.inflight), full(self.arrived),
        ]  # fmt: skip

    def sample(self, now: float) -> None:
        """Record the service's state at a timeseries sample."""
        self.col.on_service_sample(now, self.code, *self.counts())


class _SiteOfService:
    """One site of a service with sites, as its geo balancer reads it (:class:`dcsim.policies.geo.SiteView`)."""

    __slots__ = ("_geo", "_run", "name", "site")

    def __init__(self, geo: GeoService, run: ServiceRun) -> None:
        self._geo, self._run = geo, run
        self.site = run.site
        self.name = run.s.topology.site_names[run.site]

    @property
    def ready(self) -> int:
        """Ready replicas at the site."""
        return len(self._run.ready)

    @property
    def slots(self) -> int:
        """Requests its ready replicas serve at once."""
        run = self._run
        return len(run.ready) * (run.max_batch if run.tokens else run.concurrency)

    @property
    def outstanding(self) -> int:
        """Requests at the site's replicas, waiting or in service (not those waiting for a ready replica)."""
        run = self._run
        return run.inflight - len(run.buffer)

    @property
    def expected_wait_s(self) -> float:
        """Expected wait of a request sent there now (:func:`dcsim.policies.geo.expected_wait`)."""
        return self._geo.expected_wait(self.outstanding, self.slots, self._geo.mean_service_s())

    @property
    def price_usd_per_kwh(self) -> float:
        """The site's electricity price now times its PUE."""
        times = self._geo.times
        return times.price(self.site).at(self._run.env.now) * times.pue(self.site)


class _SitesOfService(list):  # type: ignore[type-arg]
    """The sites of a service with sites (:class:`dcsim.policies.geo.SiteSetView`)."""

    def __init__(self, sites: list[_SiteOfService], rtt: list[list[float]], latency_slo_s: float) -> None:
        super().__init__(sites)
        self._rtt = rtt
        self.latency_slo_s = latency_slo_s

    def rtt(self, origin: int, index: int) -> float:
        """Round trip between site ``origin`` and the service's site ``index``, s."""
        return self._rtt[origin][index]


class GeoService(_Arrivals):
    """A service that runs in several sites: one :class:`ServiceRun` per site, and a geo balancer routing requests.

    Each request draws its origin (the site its user is at) from the stream
    ``requests.<service>.origin``; the geo balancer chooses a site with a ready replica (or none,
    and the request waits at the nearest site for the first replica to become ready anywhere);
    the site's own load balancer chooses the replica, and the round trip between the origin and
    that site is added to the request's latency. Each site keeps its own replicas (``replicas``
    bounds are per site) and autoscaler; a lost replica is replaced in its own site.

    Args:
        services: the engine's services.
        spec: the service's block of the scenario (with ``sites``).
        number: its position among the scenario's services.
    """

    def __init__(self, services: Services, spec: Service, number: int) -> None:
        import numpy as np

        from dcsim.infra.wan import Wan
        from dcsim.policies.geo import GEO_BALANCER, expected_wait

        self.s, self.spec, self.env = services, spec, services.env
        self.number = number
        self.arrived = 0
        self.next_index = 0
        topology = services.topology
        names = topology.site_names
        assert spec.sites is not None
        lb = spec.load_balancer
        name, params = (lb.name, lb.params) if lb.name in GEO_BALANCER.names() or ":" in lb.name else (
            "geo_latency", {"local": lb.name, "local_params": dict(lb.params)})  # fmt: skip
        seed = services.seed
        self.policy = GEO_BALANCER.create(name, params, stream(seed, f"policy.geo_balancer.{spec.name}"))
        self.choose = guarded(self.policy, "choose", "geo load balancer", name, GEO_BALANCER)
        self.geo_name = name
        self.expected_wait = expected_wait
        self.times = services.site_times()
        self.groups: list[ServiceRun] = []
        for site in spec.sites:
            self.groups.append(ServiceRun(services, spec, number, self, names.index(site)))
        wan = Wan(names, services.wan_links)
        self.rtt = [[wan.rtt(o, g.site) for g in self.groups] for o in range(len(names))]
        self.view = _SitesOfService([_SiteOfService(self, g) for g in self.groups], self.rtt, spec.slo.bounds()[0])
        origin = spec.requests.origin or {spec.sites[0]: 1.0}
        self._origin_sites = np.array([names.index(o) for o in origin], dtype=np.int64)
        self._origin_edges = np.cumsum(list(origin.values()))[:-1]
        self._origin_rng = stream(seed, f"requests.{spec.name}.origin")
        self._origins: list[int] = []
        model = spec.service_model
        self._mean = (0.0, 0)  # run time on the reference GPU of the requests drawn so far: sum, count
        self._tokens = (model.prefill, model.decode.per_token if model.decode is not None else 0.0)
        self._start_arrivals()

    def _chunk_read(self, n: int) -> None:
        """Draw the origins of the chunk's requests; add their run times to the running mean."""
        import numpy as np

        u = self._origin_rng.random(n)
        self._origins = self._origin_sites[np.searchsorted(self._origin_edges, u, side="right")].tolist()
        total, count = self._mean
        if self.spec.service_model.tokens:
            prefill, per_token = self._tokens
            inp = sum(self._inp) / prefill if prefill else 0.0
            total += inp + sum(self._out) * per_token
        else:
            total += sum(self._work)
        self._mean = (total, count + n)

    def mean_service_s(self) -> float:
        """Mean run time of a request so far, on the reference GPU (tokens: prefill, then a decode step each)."""
        total, count = self._mean
        return total / count if count else 0.0

    def _arrive(self, _event: Any) -> None:
        k = self._k
        self._k = k + 1
        req = Request(self.arrived, self.env.now, self._sessions[k], self._inp[k], self._out[k], self._work[k])
        req.origin = self._origins[k]
        self.arrived += 1
        self.route(req)
        self._next_arrival()

    def arrival(self, req: Request) -> None:
        """A request arrives (its ``origin`` set): to the site the geo balancer chooses."""
        self.arrived += 1
        self.route(req)

    def route(self, req: Request, again: bool = False) -> None:
        """Send a request to the site the geo balancer chooses (``again``: it was there before, or waited).

        Raises:
            PlacementError: the geo balancer chose something that is not a site with a ready replica.
        """
        i = self.choose(req, self.view)
        groups = self.groups
        if i is None:  # no site it can reach has a ready replica: it waits at the nearest
            i = min(range(len(groups)), key=lambda j: (self.rtt[req.origin][j], j))
        elif type(i) is not int or not 0 <= i < len(groups) or not groups[i].ready:
            raise self._wrong(i)
        req.rtt = self.rtt[req.origin][i]
        if again:
            groups[i].resend(req)
        else:
            groups[i].arrival(req)

    def _wrong(self, answer: Any) -> Exception:
        from dcsim.core.errors import PlacementError

        return PlacementError(
            f"geo load balancer {self.geo_name!r} returned {answer!r}: give the position of a site with a ready "
            "replica, or None when no site has one"
        )

    def drain(self) -> None:
        """A replica became ready: the requests that waited for one, in arrival order, go through the balancer."""
        if not any(g.buffer for g in self.groups):
            return
        waiting: list[Request] = []
        for g in self.groups:
            if g.buffer:
                g._settle()
                g.inflight -= len(g.buffer)
                g.waiting -= len(g.buffer)
                waiting += g.buffer
                g.buffer.clear()
        for req in sorted(waiting, key=lambda q: q.id):
            self.route(req, again=True)

    def close(self, end: float) -> None:
        """The run ends: every site records its requests in flight."""
        for g in self.groups:
            g.close(end)

    def sample(self, now: float) -> None:
        """Record the service's state at a timeseries sample: the sums over its sites."""
        totals = [sum(x) for x in zip(*(g.counts() for g in self.groups), strict=True)]
        totals[-1] = self.arrived
        self.s.collector.on_service_sample(now, self.groups[0].code, *totals)


class Services:
    """Every service of one model, and what they share: placement, preemption, GPU release.

    Args:
        env: the SimPy environment.
        scenario: the validated scenario (its ``services``).
        seed: the run seed.
        topology: pools and nodes.
        cluster: the live GPU state.
        collector: receives the request, replica and scaling records.
        runs: the training runs (a replica is a holder among them on its nodes; victims of preemption).
        dispatch: its placement policy places replicas; its queue gets preempted jobs back.
        storage: the sites' storage, when a cold start loads a model through it.
        freed: called after a replica gave GPUs back (the engine schedules).
        site_times: each site's prices over time, for a geo balancer (default: the scenario's).
    """

    def __init__(
        self, env: simpy.Environment, scenario: Any, seed: int, topology: Topology, cluster: Cluster,
        collector: Collector, runs: Runs, dispatch: Dispatcher, storage: Storage | None, freed: Callable[[], None],
        site_times: SiteTimes | None = None,
    ) -> None:  # fmt: skip
        self.env, self.seed, self.topology, self.cluster = env, seed, topology, cluster
        self.collector, self.runs, self.dispatch, self.storage, self.freed = collector, runs, dispatch, storage, freed
        self.horizon = scenario.horizon
        self.base_dir = scenario.base_dir
        self.scenario = scenario
        self.wan_links = scenario.datacenter.wan
        self._placing = False
        #: Rate windows of the services whose request rate an event sets, by service index.
        self.windows = arrival_windows(scenario, services=True) if scenario.events else {}
        self._times: SiteTimes | None = site_times
        self.services: list[ServiceRun | GeoService] = [
            ServiceRun(self, spec, i) if spec.sites is None else GeoService(self, spec, i)
            for i, spec in enumerate(scenario.services)
        ]
        #: Every fleet of replicas: a service's, or each site's of a service with sites.
        self.fleets = [g for svc in self.services for g in (svc.groups if isinstance(svc, GeoService) else [svc])]

    def site_times(self) -> SiteTimes:
        """Each site's prices and clock (built once, for the services with sites)."""
        if self._times is None:
            from dcsim.infra.sites import SiteTimes

            self._times = SiteTimes(self.scenario)
        return self._times

    # ------------------------------------------------------------------ placement and preemption
    def try_place(self, r: Replica, ready_now: bool = False) -> bool:
        """Place a replica now (preempting lower-priority training where it may), or say it must wait.

        A replica looks for victims once, the first time it finds no free GPUs: one that still
        waits takes GPUs as they come free (a search per completion would cost a scan of the
        nodes per training job's end).
        """
        placement = self._place(r)
        preempted = placement is None and not r.searched and self._preempt_for(r)
        r.searched = True  # its one search for victims is spent
        if preempted:
            placement = self._place(r)
        if placement is not None:
            self._hold(r, placement)
            r.service.placed(r, placement, ready_now)
        if preempted and not self._placing:
            self.freed()  # the victims' other GPUs, and the victims themselves, to the scheduler
        return placement is not None

    def _place(self, r: Replica) -> Placement | None:
        dispatch = self.dispatch
        placement = dispatch.place(r, self.cluster)
        if placement is None:
            return None
        if not dispatch._trusted:
            placement = dispatch.check_placement(r, placement, dispatch.placement_name)  # type: ignore[arg-type]
        return placement

    def _hold(self, r: Replica, placement: Placement) -> None:
        if r.slots is None:
            self.cluster.allocate(placement)
        else:  # its GPUs are shared: CPU, memory and milli-GPU on the GPUs the placer gave it
            self.cluster.take(r.slots)  # type: ignore[attr-defined]
        node_jobs = self.runs.node_jobs
        for n, _ in placement:
            node_jobs[n].append(r)  # type: ignore[arg-type]

    def release(self, r: Replica, notify: bool) -> None:
        """Give a replica's GPUs back; ``notify``: let the engine use them now (a failure's caller does it after)."""
        runs = self.runs
        if r.slots is None:
            self.cluster.release(r.placement)
        else:
            self.cluster.give(r.slots)  # type: ignore[attr-defined]
        for n, _ in r.placement:
            runs.node_jobs[n].remove(r)  # type: ignore[arg-type]
        if self.cluster.cordoned and runs.rel is not None:
            runs.rel.released(r.placement)
        if notify:
            self.freed()

    def _preempt_for(self, r: Replica) -> bool:
        """Free GPUs for a replica by preempting running training jobs of lower priority, losing the least work.

        Only a replica that fits one node is placed this way. Among the nodes of its pools
        where the free GPUs and those of lower-priority jobs make room, it takes the node
        whose victims lose the fewest GPU-seconds of work since their last checkpoint (each
        victim's lost wall time times its GPUs); on that node it takes victims in order of
        that loss per GPU freed, until the replica fits. The victims are queued again
        (``jobs.preemptions``, reason ``scale_up``).
        """
        cluster, runs = self.cluster, self.runs
        need = r.gpus
        priority = r.priority
        now = self.env.now
        best: tuple[float, int, list[Job]] | None = None
        pools = set(r.pools)
        free = cluster.free
        per_node = [p.gpus_per_node for p in self.topology.pools]
        for node, holders in enumerate(runs.node_jobs):
            if cluster.node_pool[node] not in pools or per_node[cluster.node_pool[node]] < need:
                continue
            have = free[node]
            if have >= need:
                continue  # the placement policy chose not to use it; preempting would not change that
            victims = [j for j in holders if type(j) is Job and j.state == RUNNING and j.priority < priority]
            if not victims or have + sum(g for j in victims for n, g in j.placement if n == node) < need:
                continue
            costed = sorted(
                ((runs.progress(j, now).unsaved_wall * j.gpus, j) for j in victims),
                key=lambda x: (x[0] / sum(g for n, g in x[1].placement if n == node), x[1].id),
            )
            chosen, lost = [], 0.0
            for cost, j in costed:
                if have >= need:
                    break
                chosen.append(j)
                lost += cost
                have += sum(g for n, g in j.placement if n == node)
            if best is None or (lost, node) < (best[0], best[1]):
                best = (lost, node, chosen)
        if best is None:
            return False
        for job in best[2]:
            if job.state == RUNNING:
                job.lose("scale_up")
        return True

    def place_pending(self) -> None:
        """GPUs came free: place the replicas waiting for them, oldest first (before the training queue)."""
        if self._placing:
            return
        self._placing = True
        try:
            for svc in self.fleets:
                pending = svc.pending
                while pending:
                    if not self.try_place(pending[0]):
                        break
                    pending.popleft()
        finally:
            self._placing = False

    def cordoned(self, nodes: list[int]) -> None:
        """Maintenance drains ``nodes``: each replica on them is replaced elsewhere and drains."""
        seen: dict[int, Replica] = {}
        for n in nodes:
            for h in self.runs.node_jobs[n]:
                if isinstance(h, Replica):
                    seen[h.id] = h
        for r in sorted(seen.values(), key=lambda x: x.id):
            r.service.cordoned(r)

    def close(self, end: float) -> None:
        """The run ends: record every request still in flight."""
        for svc in self.services:
            svc.close(end)

    def sample(self, now: float) -> None:
        """Record every service's state at a timeseries sample."""
        for svc in self.services:
            svc.sample(now)


__all__ = [
    "REPLICA_ID_BASE", "GeoService", "ReadyReplicas", "Replica", "Request", "ScalerView", "ServiceRun", "Services",
]  # fmt: skip
