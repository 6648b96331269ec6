"""The faults' part of the scenario schema: failure models and causes, a failure trace, repair, maintenance.

:data:`COMPONENTS` names the component classes a failure strikes. The technicians' hours
(:class:`~dcsim.infra.spec.WorkingHours`) are the sites'; the repair time is a duration
distribution of the workload's spec. :mod:`dcsim.scenario.schema` composes this with the
other packages' specs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, model_validator

from dcsim.core.spec import MAX_SIGMA, MIN_SHAPE, DurationUnit, Policy, PolicySpec, PositiveSeconds, Seconds, Strict
from dcsim.infra.components import NAMES
from dcsim.infra.spec import WorkingHours
from dcsim.workload.spec import DurationDist, ExponentialDist

COMPONENTS = NAMES
"""Component kinds a failure strikes, from the smallest blast radius to the largest (the component tree's)."""

Component = Literal[NAMES]  # type: ignore[valid-type]


class FailureModel(Strict):
    """Time to failure of each component of one class (a renewal: drawn afresh after each repair)."""

    dist: Literal["exponential", "weibull", "lognormal"] = Field(
        "exponential", description="time-to-failure distribution"
    )
    mtbf: PositiveSeconds | None = Field(None, description="mean time between failures of one component")
    afr: float | None = Field(None, ge=1e-6, description="annual failure rate of one component (failures per year)")
    shape: float | None = Field(None, ge=MIN_SHAPE, description="Weibull shape (< 1: infant mortality)")
    sigma: float | None = Field(None, gt=0, le=MAX_SIGMA, description="log-normal sigma")
    per_type: dict[str, FailureModel] | None = Field(
        None, description="a whole model per GPU type, replacing this one for nodes of that type"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FailureModel:
        if self.per_type is None and (self.mtbf is None) == (self.afr is None):
            raise ValueError("give exactly one of `mtbf` or `afr`")
        if self.mtbf is not None and self.afr is not None:
            raise ValueError("give exactly one of `mtbf` or `afr`")
        if self.dist == "weibull" and self.shape is None:
            raise ValueError("a weibull failure model needs `shape`")
        if self.dist == "lognormal" and self.sigma is None:
            raise ValueError("a lognormal failure model needs `sigma`")
        return self


class FailureCause(FailureModel):
    """A named root cause on one component class (for a breakdown like Llama 3's Table 5)."""

    name: str = Field(description="cause name, unique among causes (e.g. faulty_gpu)")
    component: Component = Field(description="component class it strikes: gpu, node, rack or site")


class FailureTrace(Strict):
    """A CSV of failures replayed exactly: columns `time`, `component`, `duration`.

    `component` names one component: `gpu:<node>.<index>`, `node:<node>`, `rack:<rack>` or
    `site:<site name>`, with node and rack ids counted from 0 in scenario order. `duration`
    is the time the component stays down (no reboot, technician or part is involved).
    """

    path: str = Field(description="CSV file, relative to the scenario file")
    time_unit: DurationUnit = Field("s", description="unit of `time` and `duration` (s, m, h, d)")
    mode: Literal["replace", "add"] = Field(
        "replace", description="replace: only the trace's failures; add: the trace on top of the random models"
    )


class Failures(Strict):
    """Failure models per component class, named causes, a failure trace."""

    gpu: FailureModel | None = Field(None, description="one GPU: takes that GPU down")
    node: FailureModel | None = Field(None, description="a whole node: takes its GPUs down")
    rack: FailureModel | None = Field(None, description="ToR switch or PDU: takes the whole rack down")
    site: FailureModel | None = Field(None, description="site power: takes the whole site down")
    link: FailureModel | None = Field(
        None,
        description="one physical link of the fabric (a NIC link, or one switch-to-switch link): a NIC link takes "
        "what it serves off the fabric (its node; on rail_optimized its GPU), a switch-to-switch link removes its "
        "share of its bundle (the jobs crossing it slow down); no per_type",
    )
    switch: FailureModel | None = Field(
        None,
        description="one switch of the fabric: a leaf or edge (ToR) switch takes its rack down, a rail switch its "
        "GPUs; a spine, aggregation or core switch removes its links from the bundles they are in; no per_type",
    )
    causes: list[FailureCause] = Field(default_factory=list, description="more failure models, each a named cause")
    trace: FailureTrace | None = Field(None, description="failures replayed from a CSV")
    max_restarts: int | None = Field(
        None, ge=0, description="interruptions a job survives; one more and it is failed (default: no limit)"
    )

    @model_validator(mode="after")
    def _unique_causes(self) -> Failures:
        names = [c.name for c in self.causes]
        clash = sorted({n for n in names if names.count(n) > 1 or n in COMPONENTS})
        if clash:
            raise ValueError(
                f"cause names must be unique and differ from {', '.join(COMPONENTS)}; "
                f"repeated or reserved: {', '.join(clash)}"
            )
        return self

    @model_validator(mode="after")
    def _fabric_untyped(self) -> Failures:
        named = [(c, getattr(self, c)) for c in ("link", "switch")]
        named += [(f"causes.{i}", c) for i, c in enumerate(self.causes) if c.component in ("link", "switch")]
        for where, model in named:
            if model is not None and model.per_type is not None:
                raise ValueError(
                    f"{where}.per_type: a fabric's links and switches have no GPU type; give one model (mtbf or afr)"
                )
        return self

    def models(self) -> list[tuple[str, str, FailureModel]]:
        """Every random failure model as ``(cause, component class, model)``."""
        out: list[tuple[str, str, FailureModel]] = [
            (c, c, m) for c in COMPONENTS if (m := getattr(self, c)) is not None
        ]
        out += [(c.name, c.component, c) for c in self.causes]
        if self.trace is not None and self.trace.mode == "replace":
            return []
        return out


class Reboot(Strict):
    """Automatic reboot that fixes a share of failures, with no technician or part."""

    share: float = Field(ge=0, le=1, description="share of failures fixed by a reboot")
    time: Seconds = Field(600.0, description="reboot time")


class Spares(Strict):
    """Spare nodes and spare parts."""

    nodes: int = Field(0, ge=0, description="spare nodes per pool (site x node type) that stand in for a failed node")
    swap_time: Seconds = Field(1800.0, description="time to put a spare node in place of a failed one")
    parts: int | None = Field(
        None, ge=0, description="spare parts on hand; every hands-on repair uses one (default: never short)"
    )
    restock: Seconds = Field(3 * 86400.0, description="lead time of a part ordered to replace one used")


class Repair(Strict):
    """How failed components come back: reboot, or a technician with a spare part.

    Its technicians form the crew of every site without a `repair` block of its own; a site
    with one has a crew of its own, which takes its missing fields from this block.
    """

    policy: Policy = Field(
        default_factory=lambda: PolicySpec(name="fifo"),
        description="order of the technicians' queue (`dcsim policies` lists them)",
    )
    technicians: int = Field(1, ge=1, description="technicians working in parallel")
    working_hours: WorkingHours | None = Field(None, description="technicians' hours (default: around the clock)")
    reboot: Reboot | None = Field(None, description="automatic reboots")
    time: DurationDist = Field(
        default_factory=lambda: ExponentialDist(dist="exponential", mean=4 * 3600.0),
        description="hands-on repair time",
    )
    spares: Spares = Field(default_factory=Spares, description="spare nodes and parts")


class Maintenance(Strict):
    """Planned maintenance: units taken out of service one at a time (rolling) or together."""

    name: str = Field("maintenance", description="label of the window (kept in the manifest; no effect on results)")
    start: Seconds = Field(description="when the first window opens")
    duration: PositiveSeconds = Field(description="time each unit is down once drained")
    scope: Literal["node", "rack", "site", "link", "switch"] = Field(
        "rack",
        description="unit of maintenance; link and switch: the fabric's (a leaf's maintenance drains its rack, a "
        "spine's only removes its share of the uplinks while it lasts)",
    )
    units: list[int | str] | None = Field(
        None, description="which units (node/rack/link/switch ids from 0, or site names), in order (default: all)"
    )
    rolling: bool = Field(True, description="one unit after another; false: all units at once")
    every: PositiveSeconds | None = Field(None, description="repeat the whole round this often")
    drain: Literal["wait", "evict"] = Field(
        "wait", description="wait: no new jobs, running ones finish; evict: jobs checkpoint and leave at once"
    )


def fabric_named(failures: Failures | None, maintenance: Sequence[Maintenance]) -> bool:
    """Whether links or switches may fail (a model, a cause, or a trace, which may name them) or are maintained."""
    named = failures is not None and (
        failures.link is not None or failures.switch is not None or failures.trace is not None
        or any(c.component in ("link", "switch") for c in failures.causes)
    )  # fmt: skip
    return named or any(m.scope in ("link", "switch") for m in maintenance)
