"""Load balancers on hand-built replica sets (no SimPy): exact cycles, closed-form pick frequencies, hashing."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from math import comb

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.policies.balancing import BATCH, LOAD_BALANCER, SessionAffinity, mix64


@dataclass
class Replica:
    """The fields a balancer reads of a replica."""

    id: int
    outstanding: int = 0
    speed: float = 1.0


@dataclass
class Request:
    """The fields a balancer reads of a request."""

    id: int
    session: int = -1
    input_tokens: int = 0
    output_tokens: int = 0
    time: float = 0.0


class Replicas(list):
    """The engine's live sequence of ready replicas, with the version it bumps on every change."""

    version = 0


def replicas(outstanding: list[int] | None = None, speeds: list[float] | None = None, n: int = 0) -> Replicas:
    """Replicas with ids 0..n-1 and the given loads and speeds."""
    n = len(outstanding or speeds or []) or n
    out = Replicas(Replica(i, (outstanding or [0] * n)[i], (speeds or [1.0] * n)[i]) for i in range(n))
    return out


def balancer(name: str, seed: int = 0, **params: object):
    return LOAD_BALANCER.create(name, params, np.random.default_rng(seed))


def frequencies(name: str, reps: Replicas, picks: int, seed: int = 0, **params: object) -> np.ndarray:
    """Fraction of ``picks`` requests each replica (by position) received."""
    lb = balancer(name, seed, **params)
    index = {r.id: i for i, r in enumerate(reps)}
    counts = np.zeros(len(reps))
    for k in range(picks):
        counts[index[lb.pick(Request(k), reps).id]] += 1
    return counts / picks


def assert_frequencies(freq: np.ndarray, expected: list[float], picks: int) -> None:
    """Each frequency within 4 binomial standard errors of its expected probability (exact 0s exactly)."""
    for f, p in zip(freq, expected, strict=True):
        se = math.sqrt(p * (1 - p) / picks)
        assert abs(f - p) <= 4 * se, (f, p, se)


def test_registry_lists_the_six_builtins_and_checks_params() -> None:
    assert LOAD_BALANCER.names() == sorted(
        ["round_robin", "random", "least_outstanding", "power_of_two", "weighted", "session_affinity"]
    )
    with pytest.raises(ValidationError):
        LOAD_BALANCER.validate_params("power_of_two", {"d": 0})
    with pytest.raises(ValidationError):
        LOAD_BALANCER.validate_params("round_robin", {"d": 2})
    assert LOAD_BALANCER.validate_params("session_affinity", {}).vnodes == 64


def test_a_plugin_without_pick_is_refused() -> None:
    class NoPick:
        def __init__(self, params: object, rng: object) -> None:
            pass

    assert LOAD_BALANCER._not_a_policy(NoPick) == "no method pick(request, replicas)"


def test_round_robin_sends_request_k_to_replica_k_mod_n() -> None:
    reps = replicas(n=5)
    lb = balancer("round_robin")
    assert [lb.pick(Request(k), reps).id for k in range(23)] == [k % 5 for k in range(23)]


def test_round_robin_ignores_load() -> None:
    reps = replicas([9, 0, 0])
    lb = balancer("round_robin")
    assert [lb.pick(Request(k), reps).id for k in range(6)] == [0, 1, 2, 0, 1, 2]


def test_random_is_uniform() -> None:
    picks = 40_000
    assert_frequencies(frequencies("random", replicas([5, 0, 0, 9]), picks), [0.25] * 4, picks)


def test_least_outstanding_picks_the_shortest_queue_and_breaks_ties_uniformly() -> None:
    """Loads 3, 1, 5, 1, 1: replicas 1, 3 and 4 tie at 1, each gets a third; 0 and 2 none."""
    picks = 30_000
    freq = frequencies("least_outstanding", replicas([3, 1, 5, 1, 1]), picks)
    assert freq[0] == freq[2] == 0
    assert_frequencies(freq, [0, 1 / 3, 0, 1 / 3, 1 / 3], picks)


def test_least_outstanding_with_a_unique_minimum_is_deterministic() -> None:
    reps = replicas([4, 2, 7, 3])
    lb = balancer("least_outstanding")
    assert {lb.pick(Request(k), reps).id for k in range(100)} == {1}


@pytest.mark.parametrize(("n", "d"), [(3, 2), (10, 2), (10, 3), (6, 5)])
def test_power_of_d_picks_the_least_loaded_of_its_sample(n: int, d: int) -> None:
    """Distinct loads, replica r the r-th least loaded: it wins iff sampled with d - 1 of the n - 1 - r
    more loaded ones, so P(r) = C(n - 1 - r, d - 1) / C(n, d) (e.g. n = 3, d = 2: 2/3, 1/3, 0)."""
    picks = 30_000
    loads = list(range(n))[::-1]  # replica i has load n - 1 - i: reverse order, so position != rank
    freq = frequencies("power_of_two", replicas(loads), picks, d=d)
    ranks = [n - 1 - i for i in range(n)]
    expected = [comb(n - 1 - r, d - 1) / comb(n, d) for r in ranks]
    assert math.isclose(sum(expected), 1.0)
    assert_frequencies(freq, expected, picks)


def test_power_of_one_is_random_and_power_of_n_is_jsq() -> None:
    picks = 20_000
    assert_frequencies(frequencies("power_of_two", replicas([9, 0, 0, 0]), picks, d=1), [0.25] * 4, picks)
    freq = frequencies("power_of_two", replicas([3, 1, 5, 1]), picks, d=4)
    assert freq[0] == freq[2] == 0
    assert_frequencies(freq, [0, 0.5, 0, 0.5], picks)
    assert {balancer("power_of_two", d=7).pick(Request(0), replicas([2, 0, 1])).id for _ in range(50)} == {1}


class ScriptedRng:
    """A stand-in generator whose batches are a fixed list of uniforms, consumed from the end."""

    def __init__(self, uniforms: list[float]) -> None:
        self.uniforms = uniforms

    def random(self, size: int) -> np.ndarray:
        return np.array([0.0] * (size - len(self.uniforms)) + self.uniforms[::-1])


def test_power_of_two_breaks_ties_to_the_first_sampled() -> None:
    """n = 4, uniforms 0.6 then 0.1: samples replica int(0.6 * 4) = 2, then int(0.1 * 3) = 0 (< 2, kept)."""
    lb = LOAD_BALANCER.create("power_of_two", {}, ScriptedRng([0.6, 0.1]))  # type: ignore[arg-type]
    assert lb.pick(Request(0), replicas([1, 1, 1, 1])).id == 2
    lb = LOAD_BALANCER.create("power_of_two", {}, ScriptedRng([0.1, 0.6]))  # type: ignore[arg-type]
    # int(0.1 * 4) = 0, then int(0.6 * 3) = 1 (>= 0, so shifted past 0 to 2): replicas 0 and 2 tie -> 0.
    assert lb.pick(Request(0), replicas([1, 1, 1, 1])).id == 0
    lb = LOAD_BALANCER.create("power_of_two", {}, ScriptedRng([0.1, 0.6]))  # type: ignore[arg-type]
    assert lb.pick(Request(0), replicas([1, 1, 0, 1])).id == 2  # the less loaded of 0 and 2


def test_power_of_d_samples_by_partial_fisher_yates_and_breaks_ties_to_the_first() -> None:
    """n = 5, d = 3. Uniforms 0.5, 0.1, 0.9 draw positions 0 + int(2.5) = 2, 1 + int(0.4) = 1 and
    2 + int(2.7) = 4: replicas 2, 1, 4; loads 5, 1, 1 -> the tie goes to 1, sampled first. Uniforms
    0.5, 0.3, 0.1 draw positions 2, 1 + int(1.2) = 2 and 2 + int(0.3) = 2 of the virtual shuffle:
    replica 2, then 0 (swapped into position 2), then 1: loads 5, 3, 3 -> 0; the idle 3 and 4 were
    not sampled."""
    lb = LOAD_BALANCER.create("power_of_two", {"d": 3}, ScriptedRng([0.5, 0.1, 0.9]))  # type: ignore[arg-type]
    assert lb.pick(Request(0), replicas([0, 1, 5, 0, 1])).id == 1
    lb = LOAD_BALANCER.create("power_of_two", {"d": 3}, ScriptedRng([0.5, 0.3, 0.1]))  # type: ignore[arg-type]
    assert lb.pick(Request(0), replicas([3, 3, 5, 0, 0])).id == 0


def test_power_of_two_never_samples_a_replica_twice() -> None:
    """n = 2, d = 2 samples both: the less loaded always wins (a repeated draw would sometimes give the other)."""
    reps = replicas([1, 0, 5])
    lb = balancer("power_of_two")
    two = Replicas(reps[:2])
    assert {lb.pick(Request(k), two).id for k in range(2000)} == {1}
    # n = 3 with the least loaded in the middle: it loses only when {0, 2} is drawn, 1/3 of the time.
    assert_frequencies(frequencies("power_of_two", reps, 30_000), [1 / 3, 2 / 3, 0], 30_000)


def test_weighted_picks_in_proportion_to_speed_and_follows_the_version() -> None:
    picks = 40_000
    reps = replicas(speeds=[1.0, 2.0, 3.0, 4.0])
    assert_frequencies(frequencies("weighted", reps, picks), [0.1, 0.2, 0.3, 0.4], picks)
    lb = balancer("weighted")
    lb.pick(Request(0), reps)
    del reps[3]  # the fastest replica leaves: the engine bumps the version
    reps.version += 1
    counts = np.zeros(3)
    for k in range(picks):
        counts[lb.pick(Request(k), reps).id] += 1
    assert_frequencies(counts / picks, [1 / 6, 2 / 6, 3 / 6], picks)


def test_randomised_balancers_are_reproducible_for_a_seed() -> None:
    """Same seed, same picks (across more than one batch of uniforms); another seed, other picks."""
    reps = replicas([2, 0, 1, 0, 3, 0, 0, 1], speeds=[1, 2, 1, 3, 1, 1, 2, 1])
    for name in ("random", "least_outstanding", "power_of_two", "weighted"):
        runs = []
        for seed in (7, 7, 8):
            lb = balancer(name, seed)
            runs.append([lb.pick(Request(k), reps).id for k in range(BATCH + 500)])
        assert runs[0] == runs[1], name
        assert runs[0] != runs[2], name


def test_mix64_is_splitmix64() -> None:
    """splitmix64 seeded with 0 (Vigna's reference code) first returns 0xE220A8397B1DCDAF."""
    assert mix64(0) == 0xE220A8397B1DCDAF


def session_map(lb: SessionAffinity, reps: Replicas, sessions: int) -> list[int]:
    return [lb.pick(Request(10_000_000 + s, session=s), reps).id for s in range(sessions)]


def test_session_affinity_keeps_a_session_on_one_replica_whatever_the_seed() -> None:
    reps = replicas([0, 5, 1, 9])
    a = session_map(balancer("session_affinity", seed=1), reps, 500)
    b = session_map(balancer("session_affinity", seed=2), reps, 500)
    assert a == b
    lb = balancer("session_affinity")
    assert {lb.pick(Request(k, session=42), reps).id for k in range(100)} == {a[42]}
    assert len({lb.pick(Request(k), reps).id for k in range(100)}) == 4  # no session: spread by request id


def test_session_affinity_pick_is_the_ring_owner_of_the_key_hash() -> None:
    """The inlined hash of pick() agrees with key_hash(): the first ring point at or after it, clockwise."""
    reps = replicas(n=6)
    lb = balancer("session_affinity", vnodes=8)
    ring = sorted((p, rid) for rid in range(6) for p in lb.replica_points(rid))
    for k in range(300):
        request = Request(k, session=k * 7 if k % 3 else -1)
        h = lb.key_hash(request)
        assert h == mix64(~(request.session if request.session >= 0 else k) & ((1 << 64) - 1))
        owner = next((rid for p, rid in ring if p > h), ring[0][1])
        assert lb.pick(request, reps).id == owner


def test_session_affinity_removing_a_replica_moves_only_its_sessions() -> None:
    sessions = 20_000
    reps = replicas(n=10)
    lb = balancer("session_affinity")
    before = session_map(lb, reps, sessions)
    gone = 3
    smaller = Replicas(r for r in reps if r.id != gone)
    smaller.version = 1
    after = session_map(lb, smaller, sessions)
    moved = [s for s in range(sessions) if before[s] != after[s]]
    assert moved == [s for s in range(sessions) if before[s] == gone]
    assert gone not in after


def ring_share(lb: SessionAffinity, owner_id: int, ids: list[int]) -> float:
    """Fraction of the 64-bit ring whose first point clockwise belongs to ``owner_id``."""
    ring = sorted((p, rid) for rid in ids for p in lb.replica_points(rid))
    share = 0
    for k, (point, rid) in enumerate(ring):
        if rid == owner_id:
            share += (point - ring[k - 1][0]) % (1 << 64)  # the arc ending at this point
    return share / (1 << 64)


def test_session_affinity_adding_a_replica_moves_about_one_in_n_plus_one_sessions_to_it() -> None:
    """The moved fraction is the new replica's share of the ring, whose mean is 1/(n+1) and whose
    relative spread with V points per replica is about 1/sqrt(V)."""
    sessions, n, vnodes = 20_000, 10, 64
    reps = replicas(n=n)
    lb = balancer("session_affinity", vnodes=vnodes)
    before = session_map(lb, reps, sessions)
    bigger = Replicas([*reps, Replica(n)])  # a new id (ids are never reused)
    bigger.version = 1
    after = session_map(lb, bigger, sessions)
    moved = [s for s in range(sessions) if before[s] != after[s]]
    assert all(after[s] == n for s in moved)
    assert all(before[s] == after[s] for s in range(sessions) if after[s] != n)
    share = ring_share(lb, n, list(range(n + 1)))
    fraction = len(moved) / sessions
    assert abs(fraction - share) <= 4 * math.sqrt(share * (1 - share) / sessions)
    assert abs(share - 1 / (n + 1)) <= 4 * (1 / (n + 1)) / math.sqrt(vnodes)


def test_session_affinity_does_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "from types import SimpleNamespace as S\n"
        "import numpy as np\n"
        "from dcsim.policies.balancing import LOAD_BALANCER\n"
        "class R(list): version = 0\n"
        "reps = R(S(id=i, outstanding=0, speed=1.0) for i in range(7))\n"
        "lb = LOAD_BALANCER.create('session_affinity', {}, np.random.default_rng(0))\n"
        "print([lb.pick(S(id=k, session=k * 31, input_tokens=0, output_tokens=0, time=0.0), reps).id "
        "for k in range(200)])\n"
    )
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        outs.append(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True))
    assert outs[0].stdout == outs[1].stdout
    assert len(set(outs[0].stdout.strip("[]\n").split(", "))) == 7
