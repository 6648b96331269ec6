"""Load balancers: which ready replica of a service serves an arriving request.

A load balancer is called once per request (the hot path: millions of calls per run),
with the request and the service's ready replicas, and returns one of them. The
replicas are a live sequence the engine owns, in order of replica id, with an integer
``version`` the engine bumps whenever the set changes; a balancer caches whatever it
derives from the set (cumulative speeds, a hash ring) keyed on that version, and never
keeps the sequence itself. Randomness is drawn from the policy's own stream in numpy
batches (a per-call ``rng`` call costs microseconds), so picks are reproducible for a
seed. Policies never mutate a replica or a request.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from dcsim.core.registry import NoParams, Registry, lacks_methods

if TYPE_CHECKING:
    import numpy as np

BATCH = 4096
"""Uniforms drawn from the policy's stream at a time."""

_MASK64 = (1 << 64) - 1
_outstanding = attrgetter("outstanding")


class RequestView(Protocol):
    """What a balancer reads of a request."""

    id: int
    """Dense request number, unique within the run."""
    session: int
    """Session key (>= 0), or -1 when the request belongs to none."""
    input_tokens: int
    """Prompt tokens (0 when tokens are not modelled)."""
    output_tokens: int
    """Generated tokens (0 when tokens are not modelled)."""
    time: float
    """Arrival time (s)."""


class ReplicaView(Protocol):
    """What a balancer reads of a ready replica."""

    id: int
    """Unique within the service, never reused."""
    outstanding: int
    """Requests queued on the replica plus those in service."""
    speed: float
    """Service rate relative to the reference GPU (> 0)."""


class ReplicaSetView(Protocol):
    """The service's ready replicas, in order of id; ``version`` changes whenever the set does."""

    version: int

    def __len__(self) -> int:
        """Number of ready replicas (at least 1 when a balancer is called)."""

    def __getitem__(self, index: int) -> ReplicaView:
        """The replica at ``index``."""


class LoadBalancer(Protocol):
    """Sends each arriving request to one of the service's ready replicas."""

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """The replica (one of ``replicas``, which is never empty) that gets ``request``."""


LOAD_BALANCER: Registry[LoadBalancer] = Registry(
    "load_balancer",
    lambda cls: lacks_methods(cls, "pick(request, replicas)"),
    "a class with __init__(params, rng) and pick(request, replicas) returning one of replicas; see docs/howto.md",
)


def mix64(x: int) -> int:
    """The splitmix64 finaliser of ``x + golden gamma`` (Steele, Lea and Flood, 2014): a stable 64-bit hash.

    Unlike Python's ``hash()`` of a string it is the same in every process and for every seed,
    so a session's replica does not depend on the interpreter run.
    """
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


_Params = NoParams  # the base of every built-in's Params: unknown keys refused, frozen


class _Base:
    """Holds params and rng, and hands out uniforms in [0, 1) drawn in batches."""

    Params = _Params

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self._u: list[float] = []

    def _refill(self) -> list[float]:
        """Top up the uniforms (consumed from the end with ``pop()``) and return the buffer."""
        self._u.extend(self.rng.random(BATCH).tolist())
        return self._u

    def _least_of_all(self, replicas: ReplicaSetView) -> ReplicaView:
        """The replica with the fewest outstanding requests; ties uniformly at random. O(n)."""
        outs = list(map(_outstanding, replicas))  # type: ignore[call-overload]
        low = min(outs)
        ties = outs.count(low)
        i = outs.index(low)
        if ties > 1:
            u = self._u.pop() if self._u else self._refill().pop()
            for _ in range(int(u * ties)):
                i = outs.index(low, i + 1)
        return replicas[i]


@LOAD_BALANCER.register("round_robin")
class RoundRobin(_Base):
    """A cursor cycling through the ready replicas: with n fixed replicas request k goes to replica k mod n. O(1).

    Each replica sees every n-th arrival (Erlang-n inter-arrivals under Poisson traffic). When the set
    changes the cursor keeps counting, taken modulo the new size.
    """

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._next = 0

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """The replica at the cursor (modulo their number); the cursor advances by one."""
        k = self._next
        self._next = k + 1
        return replicas[k % len(replicas)]


@LOAD_BALANCER.register("random")
class RandomChoice(_Base):
    """Each request to a replica drawn uniformly at random. O(1).

    Random splitting of Poisson traffic: with exponential service, n replicas behave as n
    independent M/M/1 queues each fed a 1/n share.
    """

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """A uniformly random replica."""
        u = self._u.pop() if self._u else self._refill().pop()
        return replicas[int(u * len(replicas))]


@LOAD_BALANCER.register("least_outstanding")
class LeastOutstanding(_Base):
    """Join the shortest queue: the replica with the fewest outstanding requests; ties uniformly at random. O(n).

    The classical JSQ rule (Winston, 1977; Whitt, 1986), as in Envoy's and NGINX's least-request balancers
    with every replica inspected.
    """

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """The least-loaded replica."""
        return self._least_of_all(replicas)


@LOAD_BALANCER.register("power_of_two")
class PowerOfD(_Base):
    """Power of d choices: sample d distinct replicas uniformly, send to the one with fewest outstanding. O(d).

    Mitzenmacher (2001), "The power of two choices in randomized load balancing"; Vvedenskaya,
    Dobrushin and Karpelevich (1996) for the supermarket model. Ties go to the first sampled; with
    d >= n every replica is sampled, in random order, so this is join-the-shortest-queue.
    """

    class Params(_Params):
        """Parameters of ``power_of_two``."""

        d: int = Field(2, ge=1, description="replicas sampled per request (2: power of two choices)")

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._d: int = params.d

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """The least-loaded of d distinct replicas drawn uniformly."""
        n = len(replicas)
        d = self._d
        if d >= n:
            return self._least_of_all(replicas)
        u = self._u
        while len(u) < d:
            self._refill()
        if d == 2:  # the common case, unrolled: two distinct positions i != j
            i = int(u.pop() * n)
            j = int(u.pop() * (n - 1))
            a = replicas[i]
            b = replicas[j + 1 if j >= i else j]
            return b if b.outstanding < a.outstanding else a
        if d == 1:
            return replicas[int(u.pop() * n)]
        # d distinct indices by a partial Fisher-Yates shuffle over a virtual array.
        moved: dict[int, int] = {}
        best = replicas[0]
        best_out = -1
        for k in range(d):
            j = k + int(u.pop() * (n - k))
            idx = moved.get(j, j)
            moved[j] = moved.get(k, k)
            r = replicas[idx]
            if best_out < 0 or r.outstanding < best_out:
                best, best_out = r, r.outstanding
        return best


class _CachedOnVersion(_Base):
    """A balancer that derives a structure from the replica set, rebuilt when its ``version`` changes."""

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._version: int | None = None

    def _rebuild(self, replicas: ReplicaSetView) -> None:
        raise NotImplementedError


@LOAD_BALANCER.register("weighted")
class WeightedBySpeed(_CachedOnVersion):
    """Each request to a replica drawn at random in proportion to its speed. O(log n).

    Weighted random selection as in Envoy's and NGINX's weighted balancers, the weight being the
    replica's service rate; by bisection over cumulative speeds cached per replica-set version.
    """

    def _rebuild(self, replicas: ReplicaSetView) -> None:
        cumulative = list(accumulate(r.speed for r in replicas))  # type: ignore[attr-defined]
        self._total = cumulative[-1]
        self._edges = cumulative[:-1]  # n - 1 boundaries: bisection lands in 0..n-1 whatever the rounding
        self._version = replicas.version

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """A replica drawn with probability speed / total speed."""
        if replicas.version != self._version:
            self._rebuild(replicas)
        u = self._u.pop() if self._u else self._refill().pop()
        return replicas[bisect_right(self._edges, u * self._total)]


@LOAD_BALANCER.register("session_affinity")
class SessionAffinity(_CachedOnVersion):
    """Consistent hashing of the session key (Karger et al., 1997): a session sticks to its replica. O(log(n vnodes)).

    Each replica owns ``vnodes`` points on a 64-bit ring, hashed from (replica id, k) with splitmix64
    (stable across processes and seeds); a request goes to the owner of the first point clockwise
    from the hash of its session (of its id when it has none). Removing a replica moves only its
    sessions; adding one moves about 1/(n+1) of them, all to the new replica. The ring is rebuilt
    when the replica set's version changes; no randomness is used.
    """

    class Params(_Params):
        """Parameters of ``session_affinity``."""

        vnodes: int = Field(64, ge=1, le=4096, description="points on the hash ring per replica")

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._points: dict[int, list[int]] = {}  # replica id -> its ring points (ids are never reused)
        self._ring: list[int] = []
        self._owner: list[int] = []

    def replica_points(self, replica_id: int) -> list[int]:
        """The ring points of replica ``replica_id``."""
        points = self._points.get(replica_id)
        if points is None:
            base = mix64(replica_id)
            points = self._points[replica_id] = [mix64(base ^ k) for k in range(self.params.vnodes)]
        return points

    def _rebuild(self, replicas: ReplicaSetView) -> None:
        ids = [r.id for r in replicas]  # type: ignore[attr-defined]
        self._points = {rid: self.replica_points(rid) for rid in ids}  # drop the replicas that left
        ring = sorted((p, rid, i) for i, rid in enumerate(ids) for p in self._points[rid])
        self._ring = [p for p, _, _ in ring]
        self._owner = [i for _, _, i in ring]
        self._version = replicas.version

    @staticmethod
    def key_hash(request: RequestView) -> int:
        """The ring position of a request: the hash of its session, or of its id when it has none."""
        session = request.session
        return mix64(~(session if session >= 0 else request.id) & _MASK64)

    def pick(self, request: RequestView, replicas: ReplicaSetView) -> ReplicaView:
        """The owner of the first ring point clockwise from the request's key."""
        if replicas.version != self._version:
            self._rebuild(replicas)
        session = request.session
        # mix64 of the complemented key, inlined (this is the hot path); key_hash says the same.
        x = ((~(session if session >= 0 else request.id) & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        i = bisect_right(self._ring, x ^ (x >> 31))
        return replicas[self._owner[i if i < len(self._owner) else 0]]


__all__ = [
    "LOAD_BALANCER",
    "LeastOutstanding",
    "LoadBalancer",
    "PowerOfD",
    "RandomChoice",
    "ReplicaSetView",
    "ReplicaView",
    "RequestView",
    "RoundRobin",
    "SessionAffinity",
    "WeightedBySpeed",
    "mix64",
]
