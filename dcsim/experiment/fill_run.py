"""One run of a fill experiment (``workload.fill``): its summary, its table and its notes.

:func:`dcsim.experiment.run.simulate` hands a scenario with ``workload.fill`` here (and makes
the run's result of what it returns). The
summary holds ``run``, ``cluster``, ``utilization`` (``gpu_allocated``: the allocation rate
at the end; ``gpu_fragmentation``: the fragmentation at the end, both shares of GPU
capacity; ``cpu_allocated``, ``memory_allocated``) and the ``fill`` block
(:func:`dcsim.engine.fill.fill_summary`); the ``fill`` table has one row per arrived pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dcsim.core.errors import PlacementError
from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.core.table import Table
from dcsim.engine.fill import FillRun, fill_summary, run_fill
from dcsim.scenario.schema import Scenario


class _Checked:
    """A policy whose ``choose`` answers are checked before they are allocated (a plug-in's may be wrong)."""

    def __init__(self, policy: Any, name: str) -> None:
        from dcsim.policies import PLACEMENT

        self.name = name
        self._choose = guarded(policy, "choose", "placement", name, PLACEMENT)
        bind = getattr(policy, "bind_shapes", None)
        if bind is not None:
            self.bind_shapes = guarded(policy, "bind_shapes", "placement", name, PLACEMENT)

    def choose(self, demand: Any, shares: Any, nodes: Sequence[int]) -> tuple[int, tuple[int, ...]] | None:
        choice = self._choose(demand, shares, nodes)
        if choice is None:
            return None
        try:
            node, gpus = choice
            node, gpus = int(node), tuple(int(g) for g in gpus)
        except (TypeError, ValueError):
            raise PlacementError(f"placement {self.name!r}: choose() returned {choice!r}; return (node, GPU indices) "
                                 "or None") from None  # fmt: skip
        if node not in nodes or not shares.fits(node, demand) or len(gpus) != demand.gpus:
            raise PlacementError(f"placement {self.name!r}: choose() picked node {node} with GPUs {gpus} for "
                                 f"{demand}, which is not a candidate or does not fit there")  # fmt: skip
        return node, gpus


def make_policy(scenario: Scenario, seed: int) -> Any:
    """The scenario's placement policy for a fill run (its ``choose`` checked when it is a plug-in)."""
    from dcsim.policies import PLACEMENT

    plc = scenario.policies.placement
    policy = PLACEMENT.create(plc.name, plc.params, stream(seed, "policy.placement"))
    return policy if type(policy) in PLACEMENT.builtins() else _Checked(policy, plc.name)


def fill_table(run: FillRun) -> Table:
    """One row per arrived pod, in arrival order."""
    placed = run.placed
    return Table({
        "pod": run.pod,
        "gpu_request_milli": run.request,
        "placed": placed,
        "node": run.node,
        "arrived_share": run.arrived,
        "allocation_rate": run.allocated,
        "gpu_fragmentation": run.fragmentation,
    })  # fmt: skip


def fill_notes(scenario: Scenario, run: FillRun) -> list[str]:
    """What a reader of a fill summary should know."""
    fill = scenario.workload.fill
    assert fill is not None
    out = []
    if run.exhausted:
        out.append(
            f"the trace's pods ran out at {100 * (run.arrived[-1] if len(run.arrived) else 0):.1f} % of GPU capacity, "
            f"before `until` ({100 * fill.until:g} %): give order: sampled to draw pods until then"
        )
    if fill.until < 1 and len(run.arrived):
        out.append(f"the fill stopped at {100 * fill.until:g} % arrived: fill.allocation_rate_at_100 is the end's")
    return out


def simulate_fill(scenario: Scenario, seed: int) -> tuple[dict[str, Any], dict[str, Table]]:
    """Run a fill experiment on ``seed``: its summary and its tables (``fill``)."""
    run = run_fill(scenario, seed, make_policy(scenario, seed))
    shares = run.shares
    block = fill_summary(run, scenario.workload.fill)  # type: ignore[arg-type]
    plc = scenario.policies.placement.name
    final_frag = float(run.fragmentation[-1]) if len(run.fragmentation) else run.initial_fragmentation
    summary: dict[str, Any] = {
        "run": {"scenario": scenario.name, "seed": seed, "experiment": "fill", "placement": plc},
        "cluster": {"installed_gpus": shares.total_gpu // 1000, "nodes": len(shares)},
        "utilization": {
            "gpu_allocated": block["allocation_rate"],
            "gpu_fragmentation": final_frag,
            "cpu_allocated": shares.cpu_used / shares.total_cpu if shares.total_cpu else 0.0,
            "memory_allocated": shares.memory_used / shares.total_memory if shares.total_memory else 0.0,
        },
        "fill": block,
        "notes": fill_notes(scenario, run),
    }
    return summary, {"fill": fill_table(run)}


__all__ = ["fill_notes", "fill_table", "make_policy", "simulate_fill"]
