"""The workload's part of the scenario schema: job classes, arrival processes, size and duration distributions, a trace.

Polymorphic blocks (distributions, arrival processes) are discriminated unions on one key
(``dist``, ``process``). A class's checkpointing is here too: it is part of the job.
:mod:`dcsim.scenario.schema` composes this with the other packages' specs.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from dcsim.core import units
from dcsim.core.spec import MAX_SIGMA, MIN_SHAPE, Bytes, DurationUnit, PerSecond, PositiveSeconds, Seconds, Strict
from dcsim.core.text import quote
from dcsim.infra.spec import MAX_GPUS
from dcsim.workload.elastic import ElasticSpec


# --------------------------------------------------------------------------- distributions
def exactly_one(block: Strict, first: str, second: str) -> None:
    """Refuse a block that gives both or neither of two fields (a location: median or mean, scale or mean)."""
    if (getattr(block, first) is None) == (getattr(block, second) is None):
        raise ValueError(f"give exactly one of `{first}` or `{second}`")


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
        exactly_one(self, "median", "mean")
        return self


class WeibullDist(Strict):
    """Weibull durations with the given shape; give `scale` or `mean`."""

    dist: Literal["weibull"]
    shape: float = Field(ge=MIN_SHAPE, description="shape k (k < 1: decreasing hazard)")
    scale: PositiveSeconds | None = Field(None, description="scale (characteristic duration)")
    mean: PositiveSeconds | None = Field(None, description="mean duration (instead of scale)")

    @model_validator(mode="after")
    def _one_location(self) -> WeibullDist:
        exactly_one(self, "scale", "mean")
        return self


class EmpiricalDist(Strict):
    """Values resampled (with replacement) from a column of a CSV file."""

    dist: Literal["empirical"]
    path: str = Field(description="CSV file, relative to the scenario file")
    column: str = Field(description="column holding the values")
    unit: DurationUnit = Field("s", description="time unit of the column's numbers (s, m, h, d)")


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
            f"expected a whole number of GPUs >= 0, {{values: [...], weights: [...]}} or an empirical column, "
            f"got {quote(value)}"
        )
    if isinstance(value, dict) and "dist" not in value:
        return {"dist": "choice", **value}
    return value


class ChoiceCount(Strict):
    """GPU counts drawn from `values` with probabilities proportional to `weights`."""

    dist: Literal["choice"]
    values: list[Annotated[int, Field(ge=0, le=MAX_GPUS)]] = Field(
        min_length=1, description="GPU counts (0: a CPU-only job, which needs `cpu` or `memory`)"
    )
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
    """Checkpointing of a job class: blocking writes every `interval` of work; a restart after an interruption.

    A write takes either a fixed `write` time or, with a `size`, as long as the site's storage
    takes to write it while sharing its bandwidth with every other write and restart read
    (then a restart also reads the checkpoint back).
    """

    interval: Annotated[float | str, BeforeValidator(_interval)] = Field(
        description="work between checkpoints, or 'young_daly': Daly's optimum (~ sqrt(2 * write * MTTI)) "
        "for the job's placement (with a `size`, write = size over the bandwidth the job gets on idle storage)",
        json_schema_extra={"x-unit": "duration"},
    )
    write: Seconds = Field(0.0, description="blocking time to write one checkpoint (instead of a `size`)")
    size: Bytes | None = Field(
        None,
        description="bytes of one checkpoint, e.g. 2TB: written at the job's share of its site's `storage` "
        "bandwidth (which the site must have), and read back at a restart (instead of a fixed `write`)",
    )
    restart: Seconds = Field(
        0.0, description="time to restart from a checkpoint (with a `size`, the read of the checkpoint comes on top)"
    )

    @model_validator(mode="after")
    def _write_or_size(self) -> Checkpoint:
        if self.size is not None and self.write != 0.0:  # (0, as a resolved scenario writes it, is no fixed time)
            raise ValueError(
                "give either `write` (a fixed time per checkpoint) or `size` (bytes written at the storage's "
                "bandwidth), not both; drop `write` to let contention for storage decide the write time"
            )
        if self.size is not None and self.size <= 0:
            raise ValueError("`size` must be > 0 bytes (e.g. 2TB); for checkpoints that cost no time drop it")
        return self


PATTERNS = ("ring_allreduce", "tree_allreduce", "all_to_all", "pipeline", "none")
"""Communication patterns of a training step (see docs/background.md, "Network")."""


class Communication(Strict):
    """What one training step sends between the job's nodes, and how long it computes.

    A step takes `compute_per_step` on the class's reference GPU plus its communication at
    the job's share of the fabric; the class's `duration` is its run time on an idle fabric
    at the NICs' speed. A job inside one node communicates over NVLink, off the fabric.
    """

    pattern: Literal["ring_allreduce", "tree_allreduce", "all_to_all", "pipeline", "none"] = Field(
        description="how the step's data moves between the job's nodes"
    )
    bytes_per_step: Bytes = Field(description="data each step exchanges (the gradients, for an all-reduce), e.g. 8GB")
    compute_per_step: PositiveSeconds = Field(description="compute time of one step on the reference GPU, e.g. 1.2s")


class JobData(Strict):
    """Where a job class's data lives: a job that runs at another site first moves it there over the WAN."""

    home: str = Field(description="the site that holds the data (a job there moves nothing)")
    size: Bytes = Field(description="bytes each job reads, e.g. 2TB: moved over the WAN path before a remote run")

    @model_validator(mode="after")
    def _some_bytes(self) -> JobData:
        if self.size <= 0:
            raise ValueError("`size` must be > 0 bytes (e.g. 2TB); for data that costs nothing to move drop `data`")
        return self


class JobClass(Strict):
    """A class of gang-scheduled training jobs: every GPU of a job starts at once."""

    name: str = Field(description="class name, unique in the workload")
    arrival: Arrival = Field(description="arrival process (discriminated by `process`)")
    count: int | None = Field(None, ge=1, description="stop after this many jobs")
    gpus: GpuCount = Field(description="GPUs per job; jobs larger than a node span nodes (0: CPU-only jobs)")
    cpu: float | None = Field(
        None,
        ge=0,
        description="CPU cores per job, e.g. 8 (a job over several nodes takes them in proportion to its GPUs on "
        "each node; none: no CPU asked for)",
    )
    memory: Bytes | None = Field(
        None,
        description="host memory per job, e.g. 64GB (over several nodes: in proportion to its GPUs on each; none: "
        "no memory asked for)",
    )
    gpu_fraction: ShareOrChoice | None = Field(
        None,
        description="a share of one GPU, e.g. 0.5 or {values: [0.25, 0.5], weights: [1, 1]}: several jobs share "
        "a GPU up to its capacity (needs gpus: 1; none: whole GPUs)",
    )
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
        "default",
        description="tenant (team) the jobs belong to: one of `tenants` (its quota holds), or none (the tenant "
        "`default`, not limited)",
    )
    priority: int = Field(0, description="higher runs first under the `priority` scheduler")
    estimate_error: float = Field(
        0.0,
        ge=0,
        le=MAX_SIGMA,
        description="sigma of the log-normal error of the declared duration (0: exact)",
    )
    checkpoint: Checkpoint | None = Field(None, description="checkpointing (none: an interrupted job starts over)")
    communication: Communication | None = Field(
        None, description="traffic of a training step between the job's nodes (none: the fabric never slows it)"
    )
    sites: list[str] | None = Field(
        None, min_length=1, description="sites the jobs may run at, by name (default: any site with their GPU types)"
    )
    data: JobData | None = Field(
        None, description="the jobs' data: its home site and size, moved over the WAN when a job runs elsewhere"
    )
    deferrable: Seconds = Field(
        0.0,
        description="how long after submission a job may be held back for cheaper or cleaner power, e.g. 12h "
        "(a site router that looks ahead, cheapest_now or lowest_carbon, decides; 0: never)",
    )
    elastic: ElasticSpec | None = Field(
        None,
        description="run on any GPU count from min_gpus to max_gpus with a speed-up curve (`gpus` is the count "
        "`duration` is measured at); the `elastic` scheduler grows and shrinks the jobs (none: rigid)",
    )

    @model_validator(mode="after")
    def _batch_needs_count(self) -> JobClass:
        if isinstance(self.arrival, BatchArrival) and self.count is None:
            raise ValueError("a `batch` arrival needs `count` (how many jobs arrive)")
        return self

    @model_validator(mode="after")
    def _sharing(self) -> JobClass:
        counts = self.gpus.values if isinstance(self.gpus, ChoiceCount) else None
        if self.gpu_fraction is not None and counts != [1]:
            raise ValueError("`gpu_fraction` is a share of one GPU: it needs gpus: 1 (a job of several GPUs takes "
                             "them whole)")  # fmt: skip
        if counts is not None and 0 in counts and not (self.cpu or self.memory):
            raise ValueError("a CPU-only job (gpus: 0) asks for `cpu` or `memory`, e.g. cpu: 4; give one of them")
        if counts is not None and 0 in counts and self.elastic is not None:
            raise ValueError("an `elastic` class runs on GPUs: gpus: 0 cannot be one of its counts")
        return self

    @model_validator(mode="after")
    def _elastic_range(self) -> JobClass:
        elastic = self.elastic
        if elastic is None:
            return self
        if not isinstance(self.gpus, ChoiceCount):
            raise ValueError("an `elastic` class needs `gpus` as a count or {values: [...]} (the counts its "
                             "duration is measured at), not an empirical column")  # fmt: skip
        outside = [g for g in self.gpus.values if not elastic.min_gpus <= g <= elastic.max_gpus]
        if outside:
            raise ValueError(f"`gpus` {outside[0]} is outside `elastic` {elastic.min_gpus} to {elastic.max_gpus} "
                             "GPUs; the duration is measured at a count the job may run on")  # fmt: skip
        if self.communication is not None:
            raise ValueError("an `elastic` class with a `communication` profile is not modelled yet (its traffic "
                             "would change with its GPU count); drop one of them")  # fmt: skip
        if self.checkpoint is not None and self.checkpoint.size is not None:
            raise ValueError("an `elastic` class with a checkpoint `size` is not modelled yet; give the checkpoint "
                             "a fixed `write` time instead")  # fmt: skip
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
    cpu: str | None = Field(None, description="CPU cores per job column (GPUs are then shared; 0 GPUs allowed)")
    memory: str | None = Field(None, description="host memory per job column, bytes (GPUs are then shared)")
    gpu_fraction: str | None = Field(
        None, description="share of one GPU per job column, in [0.001, 1] (1: whole GPUs; below 1 needs 1 GPU)"
    )


SWF_OPTIONS = ("processors_per_gpu", "gpus_per_processor", "tenant_from")
"""The trace fields that only an SWF trace reads."""


class Trace(Strict):
    """A job trace replayed as given: a CSV file with a column mapping, or an SWF file.

    SWF is the Parallel Workloads Archive's Standard Workload Format.
    """

    path: str = Field(description="trace file, relative to the scenario file")
    format: Literal["csv", "swf"] = Field(
        "csv", description="csv (give `columns`), or swf: the Standard Workload Format's 18 fields, times in s"
    )
    columns: TraceColumns | None = Field(None, description="column mapping (a CSV trace)")
    time_unit: DurationUnit = Field("s", description="unit of the time columns (s, m, h, d; SWF: s)")
    processors_per_gpu: int = Field(
        1, ge=1, description="SWF: processors per GPU; a job gets ceil(processors x gpus_per_processor / this) GPUs"
    )
    gpus_per_processor: int = Field(1, ge=1, description="SWF: GPUs per processor (e.g. 8 when a processor is a node)")
    tenant_from: Literal["user", "group"] | None = Field(
        None, description="SWF: name each job's tenant by its user (user17) or group (group3) id; -1: `default`"
    )
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

    @model_validator(mode="after")
    def _format_fields(self) -> Trace:
        if self.format == "csv":
            if self.columns is None:
                raise ValueError(
                    "`columns` is required for a CSV trace: name the columns, e.g. {submit_time: arrival, gpus: gpus, "
                    "duration: duration}, or set format: swf for a Standard Workload Format file"
                )
            given = [
                f for f in SWF_OPTIONS if getattr(self, f) != Trace.model_fields[f].default
            ]  # a default may be written
            if given:
                raise ValueError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} read only from an SWF "
                                 "trace; set format: swf, or remove it")  # fmt: skip
        else:
            if self.columns is not None:
                raise ValueError("an SWF trace has fixed fields: remove `columns` (or set format: csv)")
            if self.time_unit != "s":
                raise ValueError(f"an SWF trace's times are in seconds: remove time_unit ({self.time_unit})")
        return self


# --------------------------------------------------------------------------- the fill experiment
class _Choice(Strict):
    """Values drawn with probabilities proportional to `weights` (default: equal)."""

    values: list[float] = Field(min_length=1, description="the values")
    weights: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="relative weights, one per value (default: equal)"
    )

    @model_validator(mode="after")
    def _weights_match(self) -> _Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"`weights` has {len(self.weights)} entries but `values` has {len(self.values)}; "
                                 "give one weight per value")  # fmt: skip
            if not 0 < sum(self.weights) < math.inf:
                raise ValueError("`weights` must add up to a finite number > 0 (only their ratios matter)")
        return self


class PodGpuChoice(_Choice):
    """GPUs per pod drawn from `values` (0: a CPU-only pod)."""

    values: list[Annotated[int, Field(ge=0, le=MAX_GPUS)]] = Field(min_length=1, description="GPU counts (0: none)")


MIN_SHARE = 0.001
"""The smallest share of a GPU: 1 milli-GPU, the unit shares are counted in (a smaller one would round to none)."""


def _at_least_a_milli_gpu(value: float) -> float:
    if value < MIN_SHARE:
        raise ValueError(
            f"a share of {value:g} GPU is below 1 milli-GPU and would round to none: give at least {MIN_SHARE} "
            "(shares are counted in thousandths of a GPU)"
        )
    return value


GpuShare = Annotated[float, Field(gt=0, le=1), AfterValidator(_at_least_a_milli_gpu)]
"""A share of one GPU, in [0.001, 1]."""


class FractionChoice(_Choice):
    """Shares of one GPU drawn from `values`, each in [0.001, 1]."""

    values: list[GpuShare] = Field(min_length=1, description="shares of one GPU")


def _number_or_choice(value: Any) -> str:
    """A mapping (or a parsed choice) is a choice, anything else a number: a bad choice gets one message."""
    return "choice" if isinstance(value, dict | _Choice) else "number"


ShareOrChoice = Annotated[
    Annotated[GpuShare, Tag("number")] | Annotated[FractionChoice, Tag("choice")], Discriminator(_number_or_choice)
]
"""A share of one GPU or a choice of shares."""

PodGpus = Annotated[
    Annotated[Annotated[int, Field(ge=0, le=MAX_GPUS)], Tag("number")] | Annotated[PodGpuChoice, Tag("choice")],
    Discriminator(_number_or_choice),
]
"""GPUs per pod: a count or a choice of counts."""


class FillPods(Strict):
    """One shape of pod in a `fill` workload, and its share of the pods."""

    share: float = Field(
        gt=0, description="share of the pods that have this shape (relative: shares need not sum to 1)"
    )
    gpus: PodGpus = Field(description="GPUs per pod: a count (0: CPU-only) or {values: [...], weights: [...]}")
    gpu_fraction: ShareOrChoice | None = Field(
        None, description="a share of one GPU, e.g. 0.5 or {values: [0.25, 0.5]} (needs gpus: 1; none: whole GPUs)"
    )
    cpu: float = Field(0.0, ge=0, description="CPU cores per pod, e.g. 4")
    memory: Bytes = Field(0.0, description="host memory per pod, e.g. 16GB")
    gpu_types: list[str] | None = Field(None, description="GPU types the pod may use (any)")


class FillTrace(Strict):
    """The pods of a cluster trace (Alibaba openb's pod list): drawn from its shapes, or replayed in its order."""

    path: str = Field(description="pod list file, relative to the scenario file (`dcsim import openb` writes one)")
    format: Literal["openb"] = Field(
        "openb", description="file format: openb (Alibaba's cluster-trace-gpu-v2023 pod list)"
    )
    order: Literal["sampled", "trace"] = Field(
        "sampled", description="sampled: pods drawn at random from the trace's pods; trace: in the file's order"
    )


class Fill(Strict):
    """The fragmentation experiment of the FGD study: pods arrive and stay, with no departures.

    Pods arrive one after another and each is placed at once or not at all (a pod that finds
    no room is counted and dropped), until the GPU capacity they requested reaches `until`
    times the cluster's; the allocation rate is recorded against the arrived share.
    """

    until: float = Field(
        1.0, gt=0, le=10, description="stop when the pods' GPU requests reach this share of GPU capacity"
    )
    pods: list[FillPods] | None = Field(None, min_length=1, description="pod shapes and their shares")
    trace: FillTrace | None = Field(None, description="the pods of a trace instead of `pods`")

    @model_validator(mode="after")
    def _one_source(self) -> Fill:
        if (self.pods is None) == (self.trace is None):
            raise ValueError("give the pods as `pods` (shapes and shares) or as `trace` (a pod list), one of them")
        return self


class Workload(Strict):
    """The training jobs: job classes, a job trace, or both (a scenario of services alone has none)."""

    jobs: list[JobClass] = Field(default_factory=list, description="job classes")
    trace: Trace | None = Field(None, description="a job trace (CSV or SWF)")
    fill: Fill | None = Field(
        None, description="the FGD fill experiment: pods that arrive and stay until their requests fill the cluster"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Workload:
        names = [c.name for c in self.jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"job class names must be unique; repeated: {', '.join(dupes)}")
        return self
