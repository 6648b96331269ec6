"""CPU, memory and per-GPU residual capacity of every node: the state GPU sharing needs.

A request (:class:`Demand`) asks for milli-CPUs, MiB of memory and GPUs: ``gpus`` whole
GPUs (``gpu_milli`` 1000), a share of one GPU (``gpus`` 1, ``gpu_milli`` 1 to 999, as
Alibaba's openb trace writes it), or none (a CPU-only request). :class:`Shares` holds, per
node, the CPU and memory left and, per GPU, the milli-GPU left (1000: the GPU is wholly
free). Several shares may sit on one GPU up to its capacity; a whole-GPU request takes only
wholly free GPUs.

Integers throughout (milli-CPU, MiB, milli-GPU, the units of the openb trace), so that
allocating and releasing in any order returns exactly the state before: conservation is
exact, never up to rounding.

Policies read a :class:`Shares` and never change it; the engine (or the fill experiment)
alone calls :meth:`Shares.allocate` and :meth:`Shares.release`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

WHOLE = 1000
"""Milli-GPU of one whole GPU."""


class Demand(NamedTuple):
    """What one request needs on one node.

    Attributes:
        cpu: milli-CPU (1000 = one core).
        memory: MiB.
        gpus: GPUs: the count of whole GPUs, 1 for a share of one GPU, 0 for none.
        gpu_milli: milli-GPU on each of those GPUs: 1000 for whole GPUs, 1 to 999 for a
            share, 0 with no GPU.
    """

    cpu: int = 0
    memory: int = 0
    gpus: int = 0
    gpu_milli: int = 0

    @property
    def gpu_total(self) -> int:
        """Milli-GPU asked for in all (``gpus * gpu_milli``)."""
        return self.gpus * self.gpu_milli

    @property
    def shared(self) -> bool:
        """True for a share of one GPU (1 to 999 milli-GPU)."""
        return 0 < self.gpu_milli < WHOLE

    @classmethod
    def of(cls, cpu_cores: float = 0.0, memory_bytes: float = 0.0, gpus: int = 0, fraction: float = 1.0) -> Demand:
        """A demand from cores, bytes, a GPU count and a share of one GPU (``fraction`` < 1 needs ``gpus`` 1).

        >>> Demand.of(4, 16 * 2**30, 1, 0.25)
        Demand(cpu=4000, memory=16384, gpus=1, gpu_milli=250)
        """
        milli = 0 if gpus == 0 else round(fraction * WHOLE)
        if 0 < milli < WHOLE and gpus != 1:
            raise ValueError(f"a share of a GPU ({fraction}) is asked for one GPU, not {gpus}")
        return cls(milli_cpu(cpu_cores), mib(memory_bytes), gpus, milli)


def gpu_kind(demand: Demand) -> int:
    """The request's GPU kind: 0 for a share of one GPU, k for k whole GPUs (-1: no GPU).

    The FGD study's GpuClustering packs requests of one kind together (the authors'
    ``GetGpuAffinityFromPodAnnotation``: "share-gpu", "k-gpu").
    """
    if demand.gpus == 0:
        return -1
    return 0 if demand.gpu_milli < WHOLE else demand.gpus


def mib(memory_bytes: float) -> int:
    """Bytes as whole MiB, rounded down (requests and nodes alike).

    Rounding both down keeps k requests of x bytes within a node of k x bytes, since
    k floor(x) <= floor(k x) (rounding to the nearest would refuse two 32GB requests on a 64GB
    node); a request may take up to 1 MiB less than it asked. The 1e-9 absorbs the binary error
    of a decimal size.
    """
    return math.floor(memory_bytes / 2**20 + 1e-9)


def milli_cpu(cores: float) -> int:
    """Cores as whole milli-CPUs, rounded down (requests and nodes alike, as :func:`mib`)."""
    return math.floor(cores * 1000 + 1e-6)


class Shares:
    """Free CPU, memory and milli-GPU per GPU of every node (node ids 0..N-1 as the topology's).

    Args:
        cpu: milli-CPU of each node.
        memory: MiB of each node.
        gpus: GPUs of each node (0 for a CPU-only node).
        gpu_type: GPU type of each node as an index into ``type_names`` (-1: no GPUs); default all 0.
        type_names: the GPU type names (default ``["gpu"]``).

    Invariants (kept by :meth:`allocate` and :meth:`release`):
        ``0 <= cpu_free[n] <= cpu[n]``, ``0 <= memory_free[n] <= memory[n]``,
        ``0 <= gpu_free[base[n] + i] <= WHOLE``, ``whole_free[n]`` = GPUs of ``n`` with
        ``gpu_free == WHOLE``; the totals ``cpu_used``, ``memory_used``, ``gpu_used`` are the
        sums of what is allocated; ``version[n]`` changes whenever node ``n``'s free state
        does (so a policy may cache what it computed from a node's state); ``held[n]`` counts
        the requests on ``n`` by :func:`gpu_kind`.
    """

    def __init__(
        self,
        cpu: Sequence[int],
        memory: Sequence[int],
        gpus: Sequence[int],
        gpu_type: Sequence[int] | None = None,
        type_names: Sequence[str] = ("gpu",),
    ) -> None:
        if not len(cpu) == len(memory) == len(gpus):
            raise ValueError("cpu, memory and gpus need one entry per node")
        #: GPU type index of each node (-1: a node without GPUs), into :attr:`type_names`.
        self.gpu_type: list[int] = list(gpu_type) if gpu_type is not None else [0 if g else -1 for g in gpus]
        self.type_names: list[str] = list(type_names)
        self.cpu: list[int] = list(cpu)
        self.memory: list[int] = list(memory)
        self.gpus: list[int] = list(gpus)
        self.cpu_free: list[int] = list(cpu)
        self.memory_free: list[int] = list(memory)
        #: First GPU index of each node in :attr:`gpu_free` (node n's GPUs: base[n] .. base[n] + gpus[n] - 1).
        self.base: list[int] = []
        at = 0
        for g in self.gpus:
            self.base.append(at)
            at += g
        #: Milli-GPU free on each GPU, node by node.
        self.gpu_free: list[int] = [WHOLE] * at
        #: GPUs of each node wholly free.
        self.whole_free: list[int] = list(gpus)
        self.cpu_used = 0
        self.memory_used = 0
        self.gpu_used = 0
        self.total_cpu = sum(self.cpu)
        self.total_memory = sum(self.memory)
        self.total_gpu = at * WHOLE
        #: Changes of each node's free state so far (any mutation of a node must bump it).
        self.version: list[int] = [0] * len(self.cpu)
        #: Requests holding GPUs on each node, counted by :func:`gpu_kind` (kinds with none left are absent).
        self.held: list[dict[int, int]] = [{} for _ in self.cpu]

    def __len__(self) -> int:
        return len(self.cpu)

    # ------------------------------------------------------------------ queries
    def residuals(self, node: int) -> list[int]:
        """Milli-GPU free on each GPU of ``node``, in GPU order (a copy)."""
        b = self.base[node]
        return self.gpu_free[b : b + self.gpus[node]]

    def gpu_idle(self, node: int) -> int:
        """Milli-GPU free on ``node`` in all."""
        b = self.base[node]
        return sum(self.gpu_free[b : b + self.gpus[node]])

    def fits(self, node: int, demand: Demand) -> bool:
        """True if ``demand`` fits on ``node`` now, in every dimension."""
        if demand.cpu > self.cpu_free[node] or demand.memory > self.memory_free[node]:
            return False
        if demand.gpus == 0:
            return True
        if demand.gpu_milli >= WHOLE:
            return self.whole_free[node] >= demand.gpus
        b = self.base[node]
        return any(r >= demand.gpu_milli for r in self.gpu_free[b : b + self.gpus[node]])

    def gpu_options(self, node: int, demand: Demand) -> list[tuple[int, ...]]:
        """The GPU choices on ``node`` for ``demand`` that lead to different states (GPU indices on the node).

        Whole GPUs: one choice, the lowest-indexed wholly free GPUs (any wholly free GPUs
        give the same state up to the GPUs' order). A share: one GPU per distinct residual
        that holds it, the lowest-indexed GPU of each, in GPU order. No GPU: ``[()]``.
        Empty when the demand's GPUs do not fit (CPU and memory are not checked here).
        """
        if demand.gpus == 0:
            return [()]
        b, n = self.base[node], self.gpus[node]
        free = self.gpu_free
        if demand.gpu_milli >= WHOLE:
            if self.whole_free[node] < demand.gpus:
                return []
            whole = [i for i in range(n) if free[b + i] == WHOLE]
            return [tuple(whole[: demand.gpus])]
        seen: set[int] = set()
        out: list[tuple[int, ...]] = []
        for i in range(n):
            r = free[b + i]
            if r >= demand.gpu_milli and r not in seen:
                seen.add(r)
                out.append((i,))
        return out

    def state(self, node: int) -> tuple[int, int, tuple[int, ...]]:
        """The node's free state as a hashable key: (CPU, memory, GPU residuals sorted, largest first).

        Nodes with equal keys and equal capacities are interchangeable for every policy and
        for fragmentation, so a key lets a policy score each distinct state once.
        """
        return (self.cpu_free[node], self.memory_free[node], tuple(sorted(self.residuals(node), reverse=True)))

    # ------------------------------------------------------------------ mutations (engine only)
    def allocate(self, node: int, demand: Demand, gpus: Sequence[int]) -> None:
        """Take ``demand`` on ``node``, its GPU part on the node's GPUs ``gpus`` (indices on the node).

        Raises:
            ValueError: if it does not fit (a bug in the caller: a policy chose a node that is full).
        """
        if demand.cpu > self.cpu_free[node] or demand.memory > self.memory_free[node]:
            raise ValueError(f"node {node}: {demand} does not fit its free CPU or memory")
        if len(gpus) != demand.gpus:
            raise ValueError(f"node {node}: {demand} needs {demand.gpus} GPUs, was given {len(gpus)}")
        b, n, free = self.base[node], self.gpus[node], self.gpu_free
        milli = demand.gpu_milli
        for i in gpus:
            if not 0 <= i < n or free[b + i] < milli:
                raise ValueError(f"node {node}: GPU {i} cannot hold {milli} milli-GPU")
        if len(set(gpus)) != len(gpus):
            raise ValueError(f"node {node}: GPUs {tuple(gpus)} repeat")
        for i in gpus:
            if free[b + i] == WHOLE:
                self.whole_free[node] -= 1
            free[b + i] -= milli
        self.cpu_free[node] -= demand.cpu
        self.memory_free[node] -= demand.memory
        self.cpu_used += demand.cpu
        self.memory_used += demand.memory
        self.gpu_used += milli * len(gpus)
        self.version[node] += 1
        if demand.gpus:
            kind = gpu_kind(demand)
            self.held[node][kind] = self.held[node].get(kind, 0) + 1

    def release(self, node: int, demand: Demand, gpus: Sequence[int]) -> None:
        """Give back what :meth:`allocate` took with the same arguments."""
        b, free = self.base[node], self.gpu_free
        milli = demand.gpu_milli
        for i in gpus:
            free[b + i] += milli
            if free[b + i] == WHOLE:
                self.whole_free[node] += 1
        self.cpu_free[node] += demand.cpu
        self.memory_free[node] += demand.memory
        self.cpu_used -= demand.cpu
        self.memory_used -= demand.memory
        self.gpu_used -= milli * len(gpus)
        self.version[node] += 1
        if demand.gpus:
            kind, held = gpu_kind(demand), self.held[node]
            if held[kind] == 1:
                del held[kind]
            else:
                held[kind] -= 1


__all__ = ["WHOLE", "Demand", "Shares", "gpu_kind", "mib"]
