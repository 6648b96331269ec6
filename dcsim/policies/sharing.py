"""The placement policies of the FGD study (Weng et al., "Beware of Fragmentation", ATC'23) for GPU sharing.

Each rule places one request (a :class:`~dcsim.infra.shares.Demand`: CPU, memory and
whole GPUs or a share of one) on one node: ``choose(demand, shares, nodes)`` returns the
node and the GPU indices on it, or None when no candidate fits. They are registered in
:data:`dcsim.policies.placement.PLACEMENT` as ``random``, ``dot_product``,
``gpu_clustering``, ``gpu_packing`` and ``fgd``; the study's BestFit is the ``choose`` of
the ``best_fit`` rule (:class:`BestFitChoice`). The definitions are the paper's as the
authors' simulator implements them (hkust-adsl/kubernetes-scheduler-simulator,
``pkg/simulator/plugin/*_score.go``), each named in its class.

How a rule picks the GPU of a share on the chosen node follows the study's runs
(``experiments/run_scripts``): Random takes one of the GPUs that hold it at random, FGD
the one whose fragmentation grows least, the others the fullest GPU that holds it (the
authors' ``allocateGpuIdBasedOnBestFit``); ties: the lowest GPU index. Whole GPUs are the
lowest-indexed wholly free ones (their ``AllocateExclusiveGpuId``).

Scores. The authors' scheduler (Kubernetes' framework) turns each rule's criterion into an
integer score from 0 to 100 and takes the node of the highest, ties to the smallest node
name (their patched ``selectHost``; openb's node names sort as its node ids, ours tie to
the lowest id). The integer rounding makes nearby values tie (FGD's ``sigmoid(-delta /
1000) * 100`` cannot tell deltas some 40 milli-GPU apart), and a tie goes to the lowest
node: a packing tie-break that is part of the study's results. By default (``scores:
authors``) the rules score as the authors' do; ``scores: exact`` compares each criterion
exactly (ties to the lowest node id). On the
openb default study (pods drawn with replacement until 130 % of the GPUs are asked for,
seed 42: ``bench/sharing_decisions.py``) FGD allocates 95.2 % of the GPUs with the
authors' scores (the authors' own run: 95.3 %) and 92.6 % with exact ones; the other
rules move by about one point or less.

Speed. Nodes in the same free state (:func:`dcsim.infra.fragmentation.state_key`) score
alike, so each rule keeps the candidate nodes grouped by state, regrouping only the nodes
whose :attr:`Shares.version` moved since its last call, and scores each distinct state
once per decision (memoised across decisions by (state, demand)). A decision costs
O(C + S): C candidate nodes scanned for a change (integer compares), S distinct states
scored (a cached lookup for a state and demand seen before; else O(GPUs) for the
heuristics, O(shapes x GPUs) per GPU choice for FGD).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dcsim.infra.fragmentation import FragmentationCache, Shape, StateKey, state_key
from dcsim.infra.shares import WHOLE, Demand, Shares, gpu_kind

if TYPE_CHECKING:
    import numpy as np

#: A rule's decision: (node, GPU indices on it).
Choice = tuple[int, tuple[int, ...]]

#: What a rule scores a state by: (cost, residuals a share may take, None: best fit) or None (does not fit).
Scored = tuple[Any, tuple[int, ...] | None] | None

_MEMO_LIMIT = 500_000
"""States and (state, demand) scores kept before a rule's memory is renewed (bounds memory in long runs)."""

Scores = Literal["authors", "exact"]
_SCORES_HELP = (
    "authors: the FGD authors' integer 0-100 scores, as in the study (nearby values tie, ties to the lowest "
    "node id); exact: compare the rule's criterion exactly"
)


def fits_state(key: StateKey, demand: Demand) -> bool:
    """True if ``demand`` fits a node in free state ``key`` (CPU, memory and GPUs)."""
    cpu, memory, residuals, _ = key
    if demand.cpu > cpu or demand.memory > memory:
        return False
    if demand.gpus == 0:
        return True
    milli = demand.gpu_milli
    return sum(1 for r in residuals if r >= milli) >= demand.gpus


def tightest(residuals: Sequence[int], milli: int) -> int:
    """The smallest residual that holds ``milli`` (the fullest GPU a share fits)."""
    return min(r for r in residuals if r >= milli)


def gpu_indices(shares: Shares, node: int, demand: Demand, take: tuple[int, ...] | None) -> tuple[int, ...]:
    """The GPUs on ``node`` for ``demand``: whole GPUs the lowest wholly free, a share one GPU.

    The share's GPU is the lowest-indexed one whose residual is in ``take`` (None: the
    fullest GPU that holds it).
    """
    if demand.gpus == 0:
        return ()
    residuals = shares.residuals(node)
    if demand.gpu_milli >= WHOLE:
        return tuple([i for i, r in enumerate(residuals) if r == WHOLE][: demand.gpus])
    if take is None:
        take = (tightest(residuals, demand.gpu_milli),)
    return (next(i for i, r in enumerate(residuals) if r in take),)


class _Cache:
    """A rule's memory between decisions: state keys interned as ints, scores per (demand, state), node groups."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.ids: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []
        self.memo: dict[Demand, dict[int, Any]] = {}
        self.size = 0
        self.index: dict[tuple[int, ...], _Groups] = {}

    def intern(self, key: Hashable) -> int:
        """The int standing for ``key``."""
        kid = self.ids.get(key)
        if kid is None:
            kid = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return kid

    def groups(self, shares: Shares, nodes: Sequence[int]) -> dict[int, set[int]]:
        """The candidate nodes grouped by state (interned), current."""
        cand = tuple(nodes)
        found = self.index.get(cand)
        if found is None or found.shares is not shares:
            if len(self.index) > 16:
                self.index.clear()
            found = self.index[cand] = _Groups(shares, cand, self)
        else:
            found.refresh()
        return found.groups


class _Groups:
    """Candidate nodes grouped by free state, kept current through :attr:`Shares.version`."""

    def __init__(self, shares: Shares, nodes: tuple[int, ...], cache: _Cache) -> None:
        self.shares, self.nodes, self.cache = shares, nodes, cache
        self.seen = [-1] * len(shares)
        self.key_of: dict[int, int] = {}
        self.groups: dict[int, set[int]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Regroup the nodes whose state changed since the last call: O(C) compares plus O(changed)."""
        version, seen, shares, cache = self.shares.version, self.seen, self.shares, self.cache
        for node in [n for n in self.nodes if version[n] != seen[n]]:
            seen[node] = version[node]
            old = self.key_of.get(node)
            new = cache.intern(cache.key(shares, node))
            if old == new:
                continue
            if old is not None:
                members = self.groups[old]
                members.discard(node)
                if not members:
                    del self.groups[old]
            self.key_of[node] = new
            self.groups.setdefault(new, set()).add(node)


_MISSING = object()


class SharingRule:
    """What the study's rules share: candidate nodes grouped by state, each state scored once per decision.

    A subclass defines :meth:`score`; :meth:`choose` takes the lowest cost, ties to the
    lowest node id. It never changes ``shares``.
    """

    params: Any

    def bind_shapes(self, shapes: Sequence[Shape]) -> None:
        """Take the workload's request shapes (called once before placing; only FGD uses them)."""

    def group_key(self, shares: Shares, node: int) -> Hashable:
        """What a node's score depends on: its free state and GPU type."""
        return state_key(shares, node)

    def score(self, key: Any, demand: Demand) -> Scored:
        """(cost, residuals a share may take or None for the fullest) of ``demand`` on a node in state ``key``."""
        raise NotImplementedError

    def cache(self) -> _Cache:
        """This rule's memory between decisions (made on first use; renewed when it grows too large)."""
        found: _Cache | None = self.__dict__.get("_cache")
        if found is None or found.size + len(found.keys) > _MEMO_LIMIT:
            found = self.__dict__["_cache"] = _Cache(self.group_key)
        return found

    def scored(self, cache: _Cache, demand: Demand) -> dict[int, Any]:
        """The memo of ``demand``'s scores by interned state."""
        memo = cache.memo.get(demand)
        if memo is None:
            memo = cache.memo[demand] = {}
        return memo

    def choose(self, demand: Demand, shares: Shares, nodes: Sequence[int]) -> Choice | None:
        """The node of ``nodes`` and GPUs on it for ``demand`` with the lowest cost (ties: lowest id), or None."""
        cache = self.cache()
        groups = cache.groups(shares, nodes)
        memo, keys = self.scored(cache, demand), cache.keys
        best_cost: Any = None
        best: list[tuple[set[int], tuple[int, ...] | None]] = []
        for kid, members in groups.items():
            scored = memo.get(kid, _MISSING)
            if scored is _MISSING:
                key = keys[kid]
                scored = memo[kid] = self.score(key, demand) if fits_state(self.state_of(key), demand) else None
                cache.size += 1
            if scored is None:
                continue
            cost, take = scored
            if not best or cost < best_cost:
                best_cost, best = cost, [(members, take)]
            elif cost == best_cost:
                best.append((members, take))
        if not best:
            return None
        node, take = min(((min(members), take) for members, take in best), key=lambda x: x[0])
        return node, gpu_indices(shares, node, demand, take)

    def state_of(self, key: Any) -> StateKey:
        """The free state in a group key (the key itself unless a rule adds to it)."""
        return key  # type: ignore[no-any-return]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scores: Scores = Field("authors", description=_SCORES_HELP)


class _GpuNormParams(_Params):
    max_gpus: float = Field(8.0, gt=0, description="GPUs that count as 1 in the GPU term (the authors' MaxSpecGpu: 8)")


class _NormParams(_GpuNormParams):
    max_cpu_cores: float = Field(
        128.0, gt=0, description="cores that count as 1 in the CPU term (the authors' MaxSpecCpu: 128 cores)"
    )


class RandomChoice(SharingRule):
    """Random (FGD study): a node drawn uniformly among the candidates that fit; a share on a random GPU that holds it.

    The authors' ``random_score.go`` (a node drawn at PreScore among the filtered ones)
    with ``-gpusel random`` (``allocateGpuIdBasedOnRandomFit``). Draws from the
    registry's rng (stream ``policy.placement``). Cost O(C + S) per decision.
    """

    class Params(BaseModel):
        """Random takes no parameters."""

        model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, params: Params, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng

    def choose(self, demand: Demand, shares: Shares, nodes: Sequence[int]) -> Choice | None:
        """A uniformly drawn node of ``nodes`` that fits ``demand``, and its GPUs, or None."""
        cache = self.cache()
        groups = cache.groups(shares, nodes)
        memo, keys = self.scored(cache, demand), cache.keys
        fitting = []
        for kid, members in groups.items():
            fits = memo.get(kid)
            if fits is None:
                fits = memo[kid] = fits_state(keys[kid], demand)  # type: ignore[arg-type]
                cache.size += 1
            if fits:
                fitting.append(members)
        total = sum(len(m) for m in fitting)
        if total == 0:
            return None
        k = int(self.rng.integers(total))
        for members in fitting:
            if k < len(members):
                node = sorted(members)[k]
                break
            k -= len(members)
        if demand.shared:
            holding = [i for i, r in enumerate(shares.residuals(node)) if r >= demand.gpu_milli]
            return node, (holding[int(self.rng.integers(len(holding)))],)
        return node, gpu_indices(shares, node, demand, None)


class DotProductChoice(SharingRule):
    """DotProd (FGD study, after Tetris): the node whose free (CPU, GPU) has the least dot product with the request.

    The authors' ``dot_product_score.go`` as the study runs it (``-dimext merge -norm
    max``): free milli-CPU and total free milli-GPU of the node, and the request's CPU and
    milli-GPU, each divided by the largest node's (``max_cpu_cores``, ``max_gpus``); the
    score is 1 - dot / 2, so the smallest product wins (the node with least room in the
    request's dimensions). A share on the fullest GPU that holds it. Cost O(C + S).
    """

    Params = _NormParams

    def __init__(self, params: _NormParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng

    def score(self, key: StateKey, demand: Demand) -> Scored:
        """Dot product of free and requested (CPU, GPU), each over the largest node's."""
        cpu, _, residuals, _ = key
        mc, mg = self.params.max_cpu_cores * 1000, self.params.max_gpus * WHOLE
        dot = (cpu / mc) * (demand.cpu / mc) + (sum(residuals) / mg) * (demand.gpu_total / mg)
        if self.params.scores == "authors":
            return -int(100 * (1 - dot / 2)), None
        return dot, None


class GpuClusteringChoice(SharingRule):
    """GpuClustering (FGD study): requests of one GPU kind (a share, or k whole GPUs) packed on the same nodes.

    The authors' ``gpu_clustering_score.go``: a node holding only this kind ranks first,
    then nodes holding it among others, then nodes holding no GPU request, then nodes of
    other kinds only; within a rank the node with the least idle GPU (the score's
    ``25 * (MaxSpecGpu - idle) / MaxSpecGpu``, integer in their code). A request without
    GPUs scores alike everywhere (lowest id). A share on the fullest GPU that holds it.
    Kinds per node come from :attr:`Shares.held`. Cost O(C + S), S here distinct
    (state, kinds held).
    """

    Params = _GpuNormParams

    def __init__(self, params: _GpuNormParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng

    def group_key(self, shares: Shares, node: int) -> Hashable:
        """Free state and the GPU kinds the node holds."""
        return (state_key(shares, node), frozenset(shares.held[node]))

    def state_of(self, key: Any) -> StateKey:
        """The free state in (state, kinds)."""
        return key[0]  # type: ignore[no-any-return]

    def score(self, key: Any, demand: Demand) -> Scored:
        """Rank by the kinds held (3: only this kind .. 0: others only), then least idle GPU."""
        if demand.gpus == 0:
            return 0, None
        state, kinds = key
        kind = gpu_kind(demand)
        rank = (3 if len(kinds) == 1 else 2) if kind in kinds else (0 if kinds else 1)
        idle = sum(state[2])
        if self.params.scores == "authors":
            top = self.params.max_gpus * WHOLE
            return -(25 * rank + int(25 * (top - idle) / top)), None
        return (-rank, idle), None


class GpuPackingChoice(SharingRule):
    """GpuPacking (FGD study): first partly used GPUs, then wholly free GPUs on used nodes, then empty nodes.

    The authors' ``gpu_packing_score.go``: (1) a request that fits on partly used GPUs
    goes to the node where those GPUs have least left (score 100 - 10 x their free share);
    (2) else, a node already in use where it takes fewest wholly free GPUs (50 - their
    count); (3) last, a node with all its GPUs free, the smallest first (33 - its GPUs).
    The GPUs are taken fullest first. A request without GPUs scores alike everywhere
    (lowest id). Cost O(C + S).
    """

    Params = _Params

    def __init__(self, params: _Params, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng

    def score(self, key: StateKey, demand: Demand) -> Scored:
        """(case, what ranks within it) as above."""
        if demand.gpus == 0:
            return 0, None
        residuals = key[2]
        authors = self.params.scores == "authors"
        free = sum(1 for r in residuals if r == WHOLE)
        if free == len(residuals):
            return (-max(33 - free, free) if authors else (2, free)), None
        used = sorted(r for r in residuals if r >= demand.gpu_milli)[: demand.gpus]
        whole = sum(1 for r in used if r == WHOLE)
        if whole:
            return (-max(50 - whole, 33) if authors else (1, whole)), None
        left = sum(used)
        return (-max(100 - sum(r * 100 // WHOLE for r in used) // 10, 50) if authors else (0, left)), None


class BestFitChoice(SharingRule):
    """BestFit (FGD study): the node with the least CPU and GPU left after the request, half weight each.

    The authors' ``best_fit_score.go``: minimise 0.5 (free CPU - request) / max CPU + 0.5
    (free GPU - request) / max GPU (their MaxSpecCpu 128 cores and MaxSpecGpu 8 GPUs;
    ``max_cpu_cores``, ``max_gpus``). A share on the fullest GPU that holds it. With whole
    GPUs only and no CPU requested it is the classic best fit: the fewest free GPUs that
    fit, ties to the lowest id. Cost O(C + S).
    """

    def score(self, key: StateKey, demand: Demand) -> Scored:
        """Weighted CPU and GPU left after the request."""
        cpu, _, residuals, _ = key
        mc, mg = self.params.max_cpu_cores * 1000, self.params.max_gpus * WHOLE
        left = 0.5 * (cpu - demand.cpu) / mc + 0.5 * (sum(residuals) - demand.gpu_total) / mg
        if self.params.scores == "authors":
            return -int((1 - left) * 100), None
        return left, None


class FgdChoice(SharingRule):
    """FGD (Weng et al., ATC'23): the node and GPU where the workload's fragmentation grows least.

    Fragmentation gradient descent: for each candidate node and each way the request can
    take its GPUs there (a share: each distinct residual that holds it), the change of
    F_n(M) (:mod:`dcsim.infra.fragmentation`) against the workload's shapes
    (:meth:`bind_shapes`); the smallest change wins, ties to the lowest node id and GPU
    index. The authors' ``fgd_score.go`` (``calculateGpuShareFragExtendScore``) with
    ``-gpusel FGD``: by default their integer score ``sigmoid(-delta / 1000) * 100``
    (so changes within some 40 milli-GPU tie, to the lowest node); ``scores: exact``
    compares the deltas themselves. Cost O(C + S x G) per decision, G the GPU choices of a state (one per
    distinct residual), each O(1) once its after-state is cached, else O(shapes x GPUs).
    """

    Params = _Params

    def __init__(self, params: _Params, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.frag: FragmentationCache | None = None

    def bind_shapes(self, shapes: Sequence[Shape]) -> None:
        """Measure fragmentation against these shapes from now on."""
        self.frag = FragmentationCache(shapes)
        self.__dict__.pop("_cache", None)

    def score(self, key: StateKey, demand: Demand) -> Scored:
        """The least change of F_n(M) over the request's GPU choices, and the residuals that achieve it."""
        frag = self.frag
        if frag is None:
            raise RuntimeError("fgd needs the workload's request shapes: call bind_shapes(shapes) before choose")
        residuals = key[2]
        authors = self.params.scores == "authors"
        if not demand.shared:
            whole = list(range(demand.gpus)) if demand.gpus else []  # residuals sorted: wholly free ones first
            delta = frag.delta(key, demand, residuals, whole)
            return (-_sigmoid_score(delta) if authors else delta), None
        best: Any = None
        take: list[int] = []
        for i, r in enumerate(residuals):
            if r < demand.gpu_milli or (i and residuals[i - 1] == r):
                continue
            delta = frag.delta(key, demand, residuals, [i])
            cost = -_sigmoid_score(delta) if authors else delta
            if best is None or cost < best:
                best, take = cost, [r]
            elif cost == best:
                take.append(r)
        return best, tuple(take)


def _sigmoid_score(delta: float) -> int:
    """The authors' FGD score: ``int(sigmoid((before - after) / 1000) * 100)``."""
    return int(100 / (1 + math.exp(delta / 1000)))


#: The study's rules registered by :mod:`dcsim.policies.placement` under these names
#: (BestFit is the ``best_fit`` rule's ``choose``).
SHARING_RULES: dict[str, type[SharingRule]] = {
    "random": RandomChoice,
    "dot_product": DotProductChoice,
    "gpu_clustering": GpuClusteringChoice,
    "gpu_packing": GpuPackingChoice,
    "fgd": FgdChoice,
}

__all__ = [
    "SHARING_RULES",
    "BestFitChoice",
    "Choice",
    "DotProductChoice",
    "FgdChoice",
    "GpuClusteringChoice",
    "GpuPackingChoice",
    "RandomChoice",
    "Scores",
    "SharingRule",
    "fits_state",
    "gpu_indices",
]
