"""The scenario schema: pydantic models that forbid unknown keys.

Quantities are written with units in YAML and converted here, once, into engine
units (seconds, per-second rates, watts, bits/s, bytes). Polymorphic blocks
(distributions, arrival processes) are discriminated unions on one key (``dist``,
``process``). Checks that need the whole scenario (does every job fit the cluster?)
live in :mod:`dcsim.scenario.checks`; :func:`dcsim.scenario.load.load_scenario` runs
both and reports every problem at once.
"""

from __future__ import annotations

import math
import os
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dcsim.core import units
from dcsim.core.bounds import MAX_REPLICATIONS, MAX_SEED
from dcsim.core.errors import DcsimError
from dcsim.core.text import quote
from dcsim.scenario.types import BitsPerSecond, Bytes, PerSecond, PositiveSeconds, Seconds, Watts


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors, numbers finite, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_SIGMA = 20.0
"""Largest log-normal sigma: exp(20 sigma) is already 10^173; beyond it draws overflow to infinity."""
MIN_SHAPE = 0.1
"""Smallest Weibull shape k: draws grow as (-log U)^(1/k), which overflows for tiny k."""
MAX_PRICE = 1e6
"""Largest price (USD per GPU-hour or per kWh): costs over the longest horizon stay finite."""
MAX_GPUS = 10_000_000
"""Most GPUs in a data center (and in one job): far above any data center today, and a bound on the memory
and time that building the topology takes."""


# --------------------------------------------------------------------------- distributions
def _fixed_if_scalar(value: Any) -> Any:
    """Let a bare duration (``2h``) stand for ``{dist: fixed, value: 2h}``."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


class FixedDist(Strict):
    """Always the same duration."""

    dist: Literal["fixed"]
    value: PositiveSeconds = Field(description="the duration")


class ExponentialDist(Strict):
    """Exponential durations (memoryless) with the given mean."""

    dist: Literal["exponential"]
    mean: PositiveSeconds = Field(description="mean duration")


class LogNormalDist(Strict):
    """Log-normal durations: ``exp(N(log median, sigma^2))``; give `median` or `mean`."""

    dist: Literal["lognormal"]
    median: PositiveSeconds | None = Field(None, description="median duration")
    mean: PositiveSeconds | None = Field(None, description="mean duration (instead of median)")
    sigma: float = Field(gt=0, le=MAX_SIGMA, description="standard deviation of the log")

    @model_validator(mode="after")
    def _one_location(self) -> LogNormalDist:
        if (self.median is None) == (self.mean is None):
            raise ValueError("give exactly one of `median` or `mean`")
        return self


class WeibullDist(Strict):
    """Weibull durations with the given shape; give `scale` or `mean`."""

    dist: Literal["weibull"]
    shape: float = Field(ge=MIN_SHAPE, description="shape k (k < 1: decreasing hazard)")
    scale: PositiveSeconds | None = Field(None, description="scale (characteristic duration)")
    mean: PositiveSeconds | None = Field(None, description="mean duration (instead of scale)")

    @model_validator(mode="after")
    def _one_location(self) -> WeibullDist:
        if (self.scale is None) == (self.mean is None):
            raise ValueError("give exactly one of `scale` or `mean`")
        return self


class EmpiricalDist(Strict):
    """Values resampled (with replacement) from a column of a CSV file."""

    dist: Literal["empirical"]
    path: str = Field(description="CSV file, relative to the scenario file")
    column: str = Field(description="column holding the values")
    unit: str = Field("s", description="time unit of the column's numbers (s, m, h, d)")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        units.duration("1" + value)
        return value


DurationDist = Annotated[
    FixedDist | ExponentialDist | LogNormalDist | WeibullDist | EmpiricalDist,
    BeforeValidator(_fixed_if_scalar),
    Field(discriminator="dist"),
]
"""A distribution of durations; a bare duration means `fixed`."""


def _choice_if_shorthand(value: Any) -> Any:
    """Let ``8`` stand for ``{values: [8]}`` and ``{values: ...}`` for ``dist: choice``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"dist": "choice", "values": [value]}
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a whole number of GPUs >= 1, {{values: [...], weights: [...]}} or an empirical column, "
            f"got {quote(value)}"
        )
    if isinstance(value, dict) and "dist" not in value:
        return {"dist": "choice", **value}
    return value


class ChoiceCount(Strict):
    """GPU counts drawn from `values` with probabilities proportional to `weights`."""

    dist: Literal["choice"]
    values: list[Annotated[int, Field(ge=1, le=MAX_GPUS)]] = Field(min_length=1, description="GPU counts")
    weights: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="relative weights, one per value (default: equal)"
    )

    @model_validator(mode="after")
    def _weights_match(self) -> ChoiceCount:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"`weights` has {len(self.weights)} entries but `values` has "
                    f"{len(self.values)}; give one weight per value"
                )
            if sum(self.weights) <= 0:
                raise ValueError("`weights` must not all be zero")
            if not math.isfinite(sum(self.weights)):
                raise ValueError("`weights` are too large to add up; scale them down (only their ratios matter)")
        return self


class EmpiricalCount(Strict):
    """GPU counts resampled from a column of a CSV file."""

    dist: Literal["empirical"]
    path: str = Field(description="CSV file, relative to the scenario file")
    column: str = Field(description="column holding whole GPU counts >= 1")


GpuCount = Annotated[
    ChoiceCount | EmpiricalCount,
    BeforeValidator(_choice_if_shorthand),
    Field(discriminator="dist"),
]
"""GPUs per job: ``8``, ``{values: [...], weights: [...]}`` or an empirical column."""


# --------------------------------------------------------------------------- arrivals
class PoissonArrival(Strict):
    """Poisson arrivals: exponential gaps with the given mean rate."""

    process: Literal["poisson"]
    rate: PerSecond = Field(description="mean arrivals per unit time, e.g. 10/h")


class DiurnalArrival(Strict):
    """Poisson arrivals whose rate follows the day: rate * (1 + amplitude*cos(2pi(t-peak)/period))."""

    process: Literal["diurnal"]
    rate: PerSecond = Field(description="mean rate over a period, e.g. 10/h")
    amplitude: float = Field(0.5, ge=0, le=1, description="relative swing around the mean")
    peak: Seconds = Field(14 * 3600.0, description="time of the peak within the period")
    period: PositiveSeconds = Field(86400.0, description="length of one cycle")


class PeriodicArrival(Strict):
    """One arrival every `interval`, the first at `start`."""

    process: Literal["periodic"]
    interval: PositiveSeconds = Field(description="time between arrivals")
    start: Seconds = Field(0.0, description="time of the first arrival")


class BatchArrival(Strict):
    """All `count` jobs of the class arrive together at `at`."""

    process: Literal["batch"]
    at: Seconds = Field(0.0, description="arrival time of the batch")


Arrival = Annotated[
    PoissonArrival | DiurnalArrival | PeriodicArrival | BatchArrival,
    Field(discriminator="process"),
]


# --------------------------------------------------------------------------- workload
def _interval(value: Any) -> Any:
    if value == "young_daly":
        return value
    out = units.duration(value)
    if out <= 0:
        raise ValueError("checkpoint interval must be > 0 (or 'young_daly')")
    return out


class Checkpoint(Strict):
    """Checkpointing of a job class: blocking writes every `interval` of work; a restart after an interruption."""

    interval: Annotated[float | str, BeforeValidator(_interval)] = Field(
        description="work between checkpoints, or 'young_daly': Daly's optimum (~ sqrt(2 * write * MTTI)) "
        "for the job's placement",
        json_schema_extra={"x-unit": "duration"},
    )
    write: Seconds = Field(0.0, description="blocking time to write one checkpoint")
    restart: Seconds = Field(0.0, description="time to restart from a checkpoint")


class JobClass(Strict):
    """A class of gang-scheduled training jobs: every GPU of a job starts at once."""

    name: str = Field(description="class name, unique in the workload")
    arrival: Arrival = Field(description="arrival process (discriminated by `process`)")
    count: int | None = Field(None, ge=1, description="stop after this many jobs")
    gpus: GpuCount = Field(description="GPUs per job; jobs larger than a node span nodes")
    duration: DurationDist = Field(description="run time on the GPUs")
    gpu_types: list[str] | None = Field(None, description="GPU types the job may use (any)")
    min_gpu_memory: Bytes | None = Field(None, description="only GPUs with at least this memory, e.g. 80GB")
    speed: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="this class's speed by GPU type, on the scale of the GPU speeds (H100 1), e.g. {A100: 0.45}"
    )
    speed_reference: str | None = Field(
        None, description="GPU type `duration` is measured on (default: the fastest type the class may run on)"
    )
    tenant: str = Field(
        "default", description="tenant (team) the jobs belong to: a label in jobs.parquet (no quotas yet)"
    )
    priority: int = Field(0, description="higher runs first under the `priority` scheduler")
    estimate_error: float = Field(
        0.0,
        ge=0,
        le=MAX_SIGMA,
        description="sigma of the log-normal error of the declared duration (0: exact)",
    )
    checkpoint: Checkpoint | None = Field(None, description="checkpointing (none: an interrupted job starts over)")

    @model_validator(mode="after")
    def _batch_needs_count(self) -> JobClass:
        if isinstance(self.arrival, BatchArrival) and self.count is None:
            raise ValueError("a `batch` arrival needs `count` (how many jobs arrive)")
        return self


class TraceColumns(Strict):
    """Which CSV column holds each job field (values are column names)."""

    submit_time: str = Field(description="submission time column")
    gpus: str = Field(description="GPUs per job column")
    duration: str = Field(description="run time column")
    job_id: str | None = Field(None, description="job id column (default: row number)")
    job_class: str | None = Field(None, description="job class column")
    tenant: str | None = Field(None, description="tenant column (blank: the tenant `default`)")
    priority: str | None = Field(None, description="priority column (integers)")
    estimate: str | None = Field(None, description="declared run time column (for `sjf`)")


class Trace(Strict):
    """A CSV job trace replayed as given."""

    path: str = Field(description="CSV file, relative to the scenario file")
    columns: TraceColumns = Field(description="column mapping")
    time_unit: str = Field("s", description="unit of the time columns (s, m, h, d)")
    name: str = Field("trace", description="job class of jobs without a class column, or with a blank class")
    gpu_types: list[str] | None = Field(None, description="GPU types the jobs may use (any)")
    min_gpu_memory: Bytes | None = Field(None, description="only GPUs with at least this memory, e.g. 80GB")
    speed: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="the jobs' speed by GPU type, on the scale of the GPU speeds (H100 1), e.g. {A100: 0.45}"
    )
    speed_reference: str | None = Field(
        None, description="GPU type the durations are measured on (default: the fastest type the jobs may run on)"
    )
    checkpoint: Checkpoint | None = Field(None, description="checkpointing (none: an interrupted job starts over)")

    @field_validator("time_unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        units.duration("1" + value)
        return value


class Workload(Strict):
    """What runs: job classes, a job trace, or both."""

    jobs: list[JobClass] = Field(default_factory=list, description="job classes")
    trace: Trace | None = Field(None, description="a CSV job trace")

    @model_validator(mode="after")
    def _something_runs(self) -> Workload:
        if not self.jobs and self.trace is None:
            raise ValueError("give at least one job class in `jobs` or a `trace`")
        names = [c.name for c in self.jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"job class names must be unique; repeated: {', '.join(dupes)}")
        return self


# --------------------------------------------------------------------------- datacenter
class NodeSpec(Strict):
    """A GPU server. Power, memory and speed defaults depend on the GPU type (the tables: docs/background.md)."""

    gpus: int = Field(8, ge=1, description="GPUs per node")
    gpu_type: str = Field("H100", description="GPU model name: sets power, memory and speed defaults")
    gpu_memory: Bytes | None = Field(None, description="memory of one GPU (default by type, e.g. H100 80GB)")
    gpu_speed: float | None = Field(
        None, gt=0, description="training throughput of one GPU relative to an H100 (default by type, e.g. A100 0.32)"
    )
    gpu_power: Watts | None = Field(None, description="power of a busy GPU (default by type)")
    gpu_idle_power: Watts | None = Field(None, description="power of an idle GPU (default by type)")
    base_power: Watts | None = Field(
        None, description="node power besides GPUs: CPUs, memory, NICs, fans (default 150 W/GPU)"
    )


class RackGroup(Strict):
    """Identical racks of identical nodes."""

    name: str | None = Field(None, description="label of the group (kept in the manifest; no effect on results)")
    racks: int = Field(ge=1, description="number of racks")
    nodes_per_rack: int = Field(ge=1, description="nodes in each rack")
    node: NodeSpec = Field(default_factory=NodeSpec, description="the node model")


class Network(Strict):
    """The fabric inside a site. Recorded, not yet modelled: run times do not depend on it (no effect on results)."""

    topology: Literal["leaf_spine"] = Field(
        "leaf_spine", description="fabric shape (recorded, not yet modelled: no effect on results)"
    )
    nic: BitsPerSecond = Field(
        400e9, description="node uplink bandwidth (recorded, not yet modelled: no effect on results)"
    )
    oversubscription: float = Field(
        1.0, ge=1, description="leaf down/up bandwidth ratio (recorded, not yet modelled: no effect on results)"
    )
    spines: int | None = Field(
        None, ge=1,
        description="spine switches, default enough for 64-port leaves (recorded, not yet modelled: no effect on "
        "results)",
    )  # fmt: skip


class Site(Strict):
    """A data center: racks of nodes, either uniform (`racks`, `nodes_per_rack`, `node`) or `rack_groups`."""

    name: str = Field(description="site name, unique")
    racks: int | None = Field(None, ge=1, description="racks (uniform site)")
    nodes_per_rack: int | None = Field(None, ge=1, description="nodes per rack (uniform site)")
    node: NodeSpec | None = Field(None, description="node model (uniform site)")
    rack_groups: list[RackGroup] | None = Field(None, description="heterogeneous racks")
    network: Network = Field(default_factory=Network, description="the site's fabric")
    costs: SiteCosts | None = Field(
        None, description="the site's own prices; a field it does not set is the scenario-wide `costs` one"
    )
    repair: SiteRepair | None = Field(
        None,
        description="the site's own repair crew, which repairs only this site's failures; a field it does not set "
        "is the scenario-wide `repair` one (without it, the site shares the scenario-wide crew)",
    )

    @model_validator(mode="after")
    def _one_layout(self) -> Site:
        uniform = self.racks is not None or self.nodes_per_rack is not None or self.node is not None
        if uniform and self.rack_groups:
            raise ValueError("give either `racks`/`nodes_per_rack`/`node` or `rack_groups`, not both")
        if not uniform and not self.rack_groups:
            raise ValueError("give `racks` and `nodes_per_rack` (and `node`), or `rack_groups`")
        if uniform and (self.racks is None or self.nodes_per_rack is None):
            raise ValueError("a uniform site needs both `racks` and `nodes_per_rack`")
        return self

    @property
    def groups(self) -> list[RackGroup]:
        """The site's racks as rack groups (a uniform site is one group)."""
        if self.rack_groups:
            return list(self.rack_groups)
        assert self.racks is not None and self.nodes_per_rack is not None
        return [RackGroup(racks=self.racks, nodes_per_rack=self.nodes_per_rack, node=self.node or NodeSpec())]


class Datacenter(Strict):
    """Sites > racks > nodes > GPUs."""

    sites: list[Site] = Field(min_length=1, description="the sites")

    @model_validator(mode="after")
    def _unique_sites(self) -> Datacenter:
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            raise ValueError("site names must be unique")
        gpus = sum(g.racks * g.nodes_per_rack * g.node.gpus for s in self.sites for g in s.groups)
        if gpus > MAX_GPUS:
            many = f"{gpus:,}" if gpus < 10**15 else "over 10^15"
            raise ValueError(
                f"{many} GPUs in all: dcsim models at most {MAX_GPUS:,}; give fewer racks, nodes or GPUs per node"
            )
        return self


# --------------------------------------------------------------------------- policy specs
def _policy_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    return value


class PolicySpec(Strict):
    """A policy by registered name (or ``module:Class``) with its parameters."""

    name: str = Field(description="registered name, or a plug-in as 'module:Class'")
    params: dict[str, Any] = Field(default_factory=dict, description="the policy's `Params`")


Policy = Annotated[PolicySpec, BeforeValidator(_policy_shorthand)]


def _check_policy(kind: str, spec: PolicySpec, info: ValidationInfo | None = None) -> PolicySpec:
    """Check a policy name and its params against the registry of its kind.

    A plug-in's module is looked for on the Python path, then beside the scenario file
    (the validation context's ``base_dir``) and in the current folder.
    """
    from dcsim.policies import REGISTRIES

    registry = REGISTRIES[kind]
    context = (info.context if info is not None else None) or {}
    search = [context["base_dir"]] if "base_dir" in context else []
    search.append(os.getcwd())
    try:
        registry.validate_params(spec.name, spec.params, search)
    except DcsimError as exc:
        raise ValueError(str(exc)) from None
    except ValueError as exc:  # pydantic's ValidationError of the Params model
        from dcsim.core.text import cut
        from dcsim.scenario.messages import params_problems

        errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
        parts = params_problems(errors) or [cut(str(exc), 300)]
        raise ValueError(f"{cut(spec.name, 80)}: " + "; ".join(parts)) from None
    return spec


# --------------------------------------------------------------------------- failures & repair
COMPONENTS = ("gpu", "node", "rack", "site")
"""Component classes, from the smallest blast radius to the largest."""

Component = Literal["gpu", "node", "rack", "site"]


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
    time_unit: str = Field("s", description="unit of `time` and `duration` (s, m, h, d)")
    mode: Literal["replace", "add"] = Field(
        "replace", description="replace: only the trace's failures; add: the trace on top of the random models"
    )

    @field_validator("time_unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        units.duration("1" + value)
        return value


class Failures(Strict):
    """Failure models per component class, named causes, a failure trace."""

    gpu: FailureModel | None = Field(None, description="one GPU: takes that GPU down")
    node: FailureModel | None = Field(None, description="a whole node: takes its GPUs down")
    rack: FailureModel | None = Field(None, description="ToR switch or PDU: takes the whole rack down")
    site: FailureModel | None = Field(None, description="site power: takes the whole site down")
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
                "cause names must be unique and differ from gpu, node, rack, site; "
                f"repeated or reserved: {', '.join(clash)}"
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


class WorkingHours(Strict):
    """When technicians work: hands-on repair only progresses inside these hours."""

    start: Seconds = Field(8 * 3600.0, description="start of the working day (time of day; day 0 starts at time 0)")
    end: Seconds = Field(18 * 3600.0, description="end of the working day (time of day)")
    days: Literal["all", "weekdays"] = Field("weekdays", description="weekdays: day 0 is a Monday")

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if not self.start < self.end <= 86400.0:
            raise ValueError("working hours need 0 <= start < end <= 24h")
        return self


def _repair_policy_shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class Repair(Strict):
    """How failed components come back: reboot, or a technician with a spare part.

    Its technicians form the crew of every site without a `repair` block of its own; a site
    with one has a crew of its own, which takes its missing fields from this block.
    """

    policy: Annotated[PolicySpec, BeforeValidator(_repair_policy_shorthand)] = Field(
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

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, spec: PolicySpec, info: ValidationInfo) -> PolicySpec:
        return _check_policy("repair", spec, info)


class Maintenance(Strict):
    """Planned maintenance: units taken out of service one at a time (rolling) or together."""

    name: str = Field("maintenance", description="label of the window (kept in the manifest; no effect on results)")
    start: Seconds = Field(description="when the first window opens")
    duration: PositiveSeconds = Field(description="time each unit is down once drained")
    scope: Literal["node", "rack", "site"] = Field("rack", description="unit of maintenance")
    units: list[int | str] | None = Field(
        None, description="which units (node/rack ids from 0, or site names), in order (default: all)"
    )
    rolling: bool = Field(True, description="one unit after another; false: all units at once")
    every: PositiveSeconds | None = Field(None, description="repeat the whole round this often")
    drain: Literal["wait", "evict"] = Field(
        "wait", description="wait: no new jobs, running ones finish; evict: jobs checkpoint and leave at once"
    )


class Policies(Strict):
    """Which policy makes each kind of decision (`dcsim schema` lists the names)."""

    scheduler: Policy = Field(default_factory=lambda: PolicySpec(name="fifo"), description="queue order")
    placement: Policy = Field(default_factory=lambda: PolicySpec(name="first_fit"), description="where a job runs")

    @field_validator("scheduler", "placement")
    @classmethod
    def _known_policy(cls, spec: PolicySpec, info: ValidationInfo) -> PolicySpec:
        return _check_policy(str(info.field_name), spec, info)


def _price_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = float(value.strip().lstrip("$").replace(",", ""))
        except ValueError:
            raise ValueError(
                f"expected a price in USD such as 2.10 (or one per GPU type), got {quote(value)}"
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"*": value}
    return value


class Costs(Strict):
    """Prices. Capital is per installed GPU-hour; energy is metered at the facility (x PUE).

    These are every site's prices, save those a site sets in its own `costs` block (field by field).
    """

    gpu_hour_usd: Annotated[
        dict[str, Annotated[float, Field(ge=0, le=MAX_PRICE)]], BeforeValidator(_price_shorthand)
    ] = Field(
        default_factory=lambda: {"*": 2.0},
        description="capital + operations per installed GPU-hour, in USD: one number or one per GPU type",
        json_schema_extra={"x-unit": "USD per GPU-hour"},
    )
    electricity_usd_per_kwh: float = Field(0.10, ge=0, le=MAX_PRICE, description="electricity price, USD/kWh")
    pue: float = Field(1.3, ge=1, le=10, description="power usage effectiveness: facility / IT power")

    def gpu_hour_price(self, gpu_type: str) -> float:
        """USD per installed GPU-hour of ``gpu_type``."""
        prices = self.gpu_hour_usd
        return prices[gpu_type] if gpu_type in prices else prices["*"]

    def for_site(self, site: SiteCosts | None) -> Costs:
        """These prices with a site's own on top, field by field (``self`` if the site sets none).

        A site's ``gpu_hour_usd`` is looked up first: its price for the type, then its ``*``;
        only a type it has no price for (and no ``*``) takes the scenario-wide price.
        """
        if site is None:
            return self
        update: dict[str, Any] = {k: v for k, v in site if v is not None}
        own = site.gpu_hour_usd
        if own is not None:
            update["gpu_hour_usd"] = dict(own) if "*" in own else {**self.gpu_hour_usd, **own}
        return self.model_copy(update=update) if update else self


class SiteCosts(Strict):
    """A site's own prices: any field of the scenario-wide `costs`; a field not set is the scenario-wide one."""

    gpu_hour_usd: (
        Annotated[dict[str, Annotated[float, Field(ge=0, le=MAX_PRICE)]], BeforeValidator(_price_shorthand)] | None
    ) = Field(
        None,
        description="capital + operations per installed GPU-hour at this site, in USD: one number or one per GPU "
        "type (a type without a price here, and no '*' here, takes the scenario-wide price)",
        json_schema_extra={"x-unit": "USD per GPU-hour"},
    )
    electricity_usd_per_kwh: float | None = Field(
        None, ge=0, le=MAX_PRICE, description="electricity price at this site, USD/kWh"
    )
    pue: float | None = Field(None, ge=1, le=10, description="power usage effectiveness of this site")


class SiteRepair(Strict):
    """A site's own repair crew: it repairs the site's failures, and only them.

    A field it does not set is the scenario-wide `repair` one (so `repair: {}` gives the site a
    crew of its own as large as the scenario-wide one). The repair policy, repair time, reboots
    and spares stay scenario-wide.
    """

    technicians: int | None = Field(None, ge=1, description="technicians of this site's crew")
    working_hours: WorkingHours | None = Field(
        None,
        description="this crew's hours (default: the scenario-wide ones; around the clock: {start: 0h, end: 24h, "
        "days: all})",
    )


class Metrics(Strict):
    """What is measured and how often."""

    sample_interval: PositiveSeconds | None = Field(
        None, description="time between timeseries samples (default: horizon/1000, or 5m)"
    )


class Sweep(Strict):
    """A sweep kept with the scenario: what ``dcsim sweep FILE`` runs when given no --grid or --policy."""

    grid: dict[str, list[str | int | float]] = Field(
        default_factory=dict,
        description="scenario paths and their values, e.g. {datacenter.sites.0.racks: [8, 12, 16]}; the product is run",
    )
    policies: dict[Literal["scheduler", "placement", "repair"], list[str]] = Field(
        default_factory=dict, description="policy kinds and their names as grid axes, e.g. {scheduler: [fifo, sjf]}"
    )
    replications: int = Field(
        3, ge=1, le=MAX_REPLICATIONS, description="seeds at every grid point: the scenario's seed and those after it"
    )


# --------------------------------------------------------------------------- scenario
class Scenario(Strict):
    """A whole scenario: the data center, its workload, policies, prices."""

    name: str = Field(
        min_length=1,
        description="names the results folder, results/<name>/ (characters other than letters, digits and ._+=- "
        "become _, and a changed or long name gets a short hash: no name leads outside results/)",
    )
    description: str = Field("", description="free text")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of every random stream")
    horizon: PositiveSeconds | None = Field(
        None, description="simulated time to stop at (default: when the workload drains)"
    )
    warmup: Seconds = Field(0.0, description="initial period excluded from every metric")
    datacenter: Datacenter
    workload: Workload
    failures: Failures | None = Field(None, description="component failures (reliability model)")
    repair: Repair | None = Field(None, description="repair of failed components (default: 1 technician)")
    maintenance: list[Maintenance] = Field(default_factory=list, description="planned maintenance windows")
    policies: Policies = Field(default_factory=Policies)
    costs: Costs = Field(default_factory=Costs)
    metrics: Metrics = Field(default_factory=Metrics)
    sweep: Sweep | None = Field(None, description="the sweep `dcsim sweep` runs by default (other commands ignore it)")

    _base_dir: str = PrivateAttr(default=".")

    @field_validator("warmup")
    @classmethod
    def _warmup_before_horizon(cls, warmup: float, info: ValidationInfo) -> float:
        horizon = info.data.get("horizon")  # validated first: it is declared first
        if horizon is not None and warmup >= horizon:
            raise ValueError(
                f"warmup ({units.format_duration(warmup)}) must be shorter than horizon "
                f"({units.format_duration(horizon)})"
            )
        return warmup

    @property
    def base_dir(self) -> str:
        """Folder that relative paths in the scenario are resolved against."""
        return self._base_dir

    def site_costs(self) -> dict[str, Costs]:
        """The prices of each site, by site name: its own `costs` on top of the scenario-wide ones."""
        return {site.name: self.costs.for_site(site.costs) for site in self.datacenter.sites}


# Site refers to SiteCosts and SiteRepair, defined with the blocks they take their defaults from.
Site.model_rebuild()
Datacenter.model_rebuild()
Scenario.model_rebuild()
