"""The services' part of the scenario schema: inference services, their requests, replicas and policies.

A service runs replicas of one model on GPUs of the same cluster as the training jobs.
Requests arrive by a process of their own (Poisson, diurnal, a two-state MMPP or a trace),
a load balancer sends each to a ready replica, and an autoscaler sets how many replicas
there are. A replica serves either requests that each take a run time from a distribution
(``service_model: {time: ..., concurrency: k}``: k at a time, first come first served), or
tokens (``prefill`` throughput, then ``decode`` one output token per step for every request
of the batch, the step slower by ``batch_penalty`` per extra request). See
docs/background.md, "Serving".
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dcsim.core.spec import (
    MAX_SIGMA,
    Bytes,
    DurationUnit,
    PerSecond,
    PolicySpec,
    PositiveSeconds,
    Seconds,
    Strict,
)
from dcsim.workload.spec import (
    DiurnalArrival,
    EmpiricalDist,
    ExponentialDist,
    FixedDist,
    GpuShare,
    LogNormalDist,
    PoissonArrival,
    WeibullDist,
    _fixed_if_scalar,
    exactly_one,
)

MAX_TOKENS = 10_000_000
"""Most tokens of one request (a draw beyond it is cut to it)."""


# --------------------------------------------------------------------------- token counts
def _fixed_count(value: Any) -> Any:
    """Let a bare number of tokens (``250``) stand for ``{dist: fixed, value: 250}``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


class FixedTokens(Strict):
    """Every request has the same number of tokens."""

    dist: Literal["fixed"]
    value: int = Field(ge=0, le=MAX_TOKENS, description="tokens")


class LogNormalTokens(Strict):
    """Log-normal token counts (rounded, at least 1): ``exp(N(log median, sigma^2))``; give `median` or `mean`."""

    dist: Literal["lognormal"]
    median: float | None = Field(None, gt=0, le=MAX_TOKENS, description="median tokens")
    mean: float | None = Field(None, gt=0, le=MAX_TOKENS, description="mean tokens (instead of median)")
    sigma: float = Field(gt=0, le=MAX_SIGMA, description="standard deviation of the log")

    @model_validator(mode="after")
    def _one_location(self) -> LogNormalTokens:
        exactly_one(self, "median", "mean")
        return self


class ExponentialTokens(Strict):
    """Exponential token counts (rounded, at least 1) with the given mean."""

    dist: Literal["exponential"]
    mean: float = Field(gt=0, le=MAX_TOKENS, description="mean tokens")


class EmpiricalTokens(Strict):
    """Token counts resampled (with replacement) from a column of a CSV file."""

    dist: Literal["empirical"]
    path: str = Field(description="CSV file, relative to the scenario file")
    column: str = Field(description="column holding token counts > 0")


TokenKinds = FixedTokens | LogNormalTokens | ExponentialTokens | EmpiricalTokens
"""The kinds of token distributions (a field of them is discriminated on ``dist``)."""


# --------------------------------------------------------------------------- request arrivals
class MmppArrival(Strict):
    """A Markov-modulated Poisson process: Poisson at the rate of its state, states alternating.

    With two states (the usual model of bursty traffic) it stays in state i for an exponential
    time of mean ``mean_sojourn[i]``, then moves to the other; with more states it moves to
    the next in turn. It starts in state 0.
    """

    process: Literal["mmpp"]
    rates: list[PerSecond] = Field(
        min_length=2, max_length=16, description="arrival rate in each state, e.g. [10/s, 80/s]"
    )
    mean_sojourn: list[PositiveSeconds] = Field(
        min_length=2, max_length=16, description="mean time in each state, e.g. [20m, 2m]"
    )

    @model_validator(mode="after")
    def _one_sojourn_per_rate(self) -> MmppArrival:
        if len(self.rates) != len(self.mean_sojourn):
            raise ValueError(
                f"`rates` has {len(self.rates)} states but `mean_sojourn` has {len(self.mean_sojourn)}; "
                "give one mean time per state"
            )
        return self


class RequestTrace(Strict):
    """Requests replayed from a CSV file: one row per request, at its time."""

    process: Literal["trace"]
    path: str = Field(description="CSV file, relative to the scenario file")
    time: str = Field("time", description="column of arrival times (from the start of the run)")
    time_unit: DurationUnit = Field("s", description="unit of the time column (s, m, h, d)")
    input_tokens: str | None = Field(None, description="column of input (prompt) tokens, if any")
    output_tokens: str | None = Field(None, description="column of output tokens, if any")
    session: str | None = Field(None, description="column of session keys (text or numbers), if any")


RequestArrival = Annotated[
    PoissonArrival | DiurnalArrival | MmppArrival | RequestTrace,
    Field(discriminator="process"),
]


class Requests(Strict):
    """A service's requests: when they arrive and, for a token model, how long they are."""

    arrival: RequestArrival = Field(description="arrival process (discriminated by `process`)")
    count: int | None = Field(None, ge=1, description="stop after this many requests")
    input_tokens: TokenKinds | None = Field(
        None,
        discriminator="dist",
        description="prompt tokens per request (token service models), e.g. 500 or {dist: lognormal, ...}",
    )
    output_tokens: TokenKinds | None = Field(
        None,
        discriminator="dist",
        description="output tokens per request (token service models), e.g. 60 or {dist: lognormal, ...}",
    )
    sessions: int | None = Field(
        None, ge=1, description="distinct session keys, drawn uniformly per request (for `session_affinity`)"
    )
    origin: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None,
        min_length=1,
        description="where the users are: the share of requests from each site, e.g. {us-east: 0.7, eu-north: 0.3} "
        "(a service with `sites`; default: all from its first site)",
    )

    @field_validator("origin")
    @classmethod
    def _shares_sum_to_one(cls, origin: dict[str, float] | None) -> dict[str, float] | None:
        if origin is not None and abs(sum(origin.values()) - 1.0) > 1e-9:
            raise ValueError(f"the shares add up to {sum(origin.values()):g}; make them add up to 1")
        return origin

    @field_validator("input_tokens", "output_tokens", mode="before")
    @classmethod
    def _bare_count(cls, value: Any) -> Any:
        return _fixed_count(value)


# --------------------------------------------------------------------------- how a replica serves
class Decode(Strict):
    """Decoding: one output token per step for every request in the batch."""

    per_token: PositiveSeconds = Field(description="time of one decode step with one request in the batch, e.g. 25ms")
    max_batch: int = Field(
        1, ge=1, le=100_000, description="most requests a replica holds at once (prefill and decode)"
    )
    batch_penalty: float = Field(
        0.0, ge=0, le=100, description="a step takes per_token * (1 + batch_penalty * (batch - 1))"
    )


ServiceTime = FixedDist | ExponentialDist | LogNormalDist | WeibullDist | EmpiricalDist
"""The run-time distributions of one request (``service_model.time``, or ``service_time``)."""


class ServiceModel(Strict):
    """How one replica serves, on its reference GPU: per-request run times, or tokens.

    Give `time` (and `concurrency`), or `decode` (and `prefill`).
    """

    time: ServiceTime | None = Field(
        None,
        discriminator="dist",
        description="run time of one request, e.g. 200ms or {dist: exponential, mean: 200ms}",
    )

    concurrency: int = Field(1, ge=1, le=100_000, description="requests a replica serves at once with `time`")

    @field_validator("time", mode="before")
    @classmethod
    def _bare_time(cls, value: Any) -> Any:
        return _fixed_if_scalar(value)

    prefill: PerSecond | None = Field(None, description="prompt tokens a replica reads per second, e.g. 12000/s")
    decode: Decode | None = Field(None, description="decode steps of a token model")

    @model_validator(mode="after")
    def _one_model(self) -> ServiceModel:
        tokens = self.prefill is not None or self.decode is not None
        if self.time is not None and tokens:
            raise ValueError("give either `time` (a run time per request) or `prefill`/`decode` (tokens), not both")
        if self.time is None and self.decode is None:
            raise ValueError(
                "give `time` (a run time per request, e.g. {dist: exponential, mean: 200ms}) or `decode` "
                "(a token model: {per_token: 25ms, max_batch: 64})"
            )
        if tokens and self.concurrency != 1:  # (the default, as a resolved scenario writes it, is fine)
            raise ValueError("`concurrency` goes with `time`; a token model serves up to `decode.max_batch` at once")
        return self

    @property
    def tokens(self) -> bool:
        """Whether requests are served as tokens."""
        return self.decode is not None


# --------------------------------------------------------------------------- the service
def _policy_block(value: Any) -> Any:
    """``{policy: NAME, param: ...}`` (the scenario's form), a bare name, or ``{name, params}``."""
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict) and "policy" in value:
        rest = {k: v for k, v in value.items() if k != "policy"}
        if "name" in rest or "params" in rest:
            raise ValueError("write `{policy: NAME, PARAM: VALUE, ...}`, or `{name: NAME, params: {...}}`, not both")
        return {"name": value["policy"], "params": rest}
    return value


ServicePolicy = Annotated[PolicySpec, BeforeValidator(_policy_block)]
"""A service's policy: ``{policy: NAME, PARAM: VALUE, ...}``, a bare name or ``{name: NAME, params: {...}}``."""


class ModelSpec(Strict):
    """The model a replica serves."""

    name: str = Field("model", description="model name (a label)")
    size: Bytes | None = Field(
        None, description="bytes a cold start loads from its site's storage, e.g. 140GB (needs `storage.bandwidth`)"
    )


class SiteReplicaCounts(Strict):
    """One site's own replica bounds and start (a field not given: the service's)."""

    min: int | None = Field(None, ge=0, le=1_000_000, description="fewest replicas at the site")
    max: int | None = Field(None, ge=1, le=1_000_000, description="most replicas at the site")
    initial: int | None = Field(None, ge=0, description="replicas at the site at the start")


class ReplicaCounts(Strict):
    """How many replicas: the autoscaler's bounds and the count at the start (with `sites`: of each site)."""

    min: int = Field(1, ge=0, le=1_000_000, description="fewest replicas (0: scale to zero)")
    max: int = Field(ge=1, le=1_000_000, description="most replicas")
    initial: int | None = Field(None, ge=0, description="replicas at the start, ready (default: `min`, at least 1)")
    per_site: dict[str, SiteReplicaCounts] | None = Field(
        None,
        description="a service with `sites`: a site's own counts, e.g. {eu-north: {min: 4, initial: 4}} (the "
        "others: min, max and initial above)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReplicaCounts:
        _check_order(self.min, self.max, self.initial, "")
        for site in self.per_site or {}:
            counts = self.at(site)
            _check_order(counts.min, counts.max, counts.initial, f"per_site.{site}: ")
        return self

    def at(self, site: str | None) -> ReplicaCounts:
        """The counts of ``site`` (its ``per_site`` entry over these), or these (None, or a site without one)."""
        own = (self.per_site or {}).get(site) if site is not None else None
        if own is None:
            return self
        given = own.model_dump(exclude_none=True)
        if "min" in given and "initial" not in given and self.initial is not None and self.initial < given["min"]:
            given["initial"] = given["min"]  # a site's higher minimum lifts the service's start there
        return ReplicaCounts.model_construct(**{**self.model_dump(exclude={"per_site"}), **given, "per_site": None})

    @property
    def start(self) -> int:
        """Replicas at the start."""
        return self.initial if self.initial is not None else min(max(self.min, 1), self.max)


def _check_order(low: int, high: int, initial: int | None, where: str) -> None:
    """Refuse counts whose min is above max, or whose initial count is outside them."""
    if low > high:
        raise ValueError(f"{where}`min` ({low}) is above `max` ({high})")
    if initial is not None and not low <= initial <= high:
        raise ValueError(f"{where}`initial` ({initial}) must be between `min` ({low}) and `max` ({high})")


class Slo(Strict):
    """Latency objectives: each percentile of the requests' latency (or time to first token) stays under its bound."""

    latency_p50: PositiveSeconds | None = Field(None, description="end-to-end latency the median must stay under")
    latency_p95: PositiveSeconds | None = Field(None, description="latency the 95th percentile must stay under")
    latency_p99: PositiveSeconds | None = Field(None, description="latency the 99th percentile must stay under")
    ttft_p50: PositiveSeconds | None = Field(None, description="time to first token the median must stay under")
    ttft_p95: PositiveSeconds | None = Field(None, description="time to first token of the 95th percentile")
    ttft_p99: PositiveSeconds | None = Field(None, description="time to first token of the 99th percentile")

    def bounds(self) -> tuple[float, float]:
        """The latency and time-to-first-token bound of the tail objective (the highest percentile given; inf: none).

        A request is within the SLO (``slo_attainment``) when it meets both.
        """
        lat = [v for v in (self.latency_p99, self.latency_p95, self.latency_p50) if v is not None]
        ttft = [v for v in (self.ttft_p99, self.ttft_p95, self.ttft_p50) if v is not None]
        return (lat[0] if lat else math.inf, ttft[0] if ttft else math.inf)

    def objectives(self) -> list[tuple[str, float, float]]:
        """Every objective given: (``latency`` or ``ttft``, its percentile, its bound in s)."""
        out = []
        for what in ("latency", "ttft"):
            for q in (50, 95, 99):
                bound = getattr(self, f"{what}_p{q}")
                if bound is not None:
                    out.append((what, float(q), bound))
        return out


class Service(Strict):
    """An inference service: replicas of one model on the cluster's GPUs, serving its requests."""

    name: str = Field(min_length=1, description="service name, unique in the scenario")
    model: ModelSpec = Field(default_factory=ModelSpec, description="the model (name, size)")
    gpus_per_replica: int = Field(1, ge=1, le=4096, description="GPUs one replica holds")
    cpu: float | None = Field(
        None,
        ge=0,
        description="CPU cores per replica, e.g. 8 (GPUs are then shared; over several nodes in proportion to its "
        "GPUs on each; none: no CPU asked for)",
    )
    memory: Bytes | None = Field(
        None, description="host memory per replica, e.g. 64GB (GPUs are then shared; none: no memory asked for)"
    )
    gpu_fraction: GpuShare | None = Field(
        None,
        description="a replica on a share of one GPU, e.g. 0.5: replicas and jobs share a GPU up to its capacity, "
        "each serving at full speed (needs gpus_per_replica: 1; none: whole GPUs)",
    )
    gpu_types: list[str] | None = Field(None, description="GPU types a replica may use (any)")
    min_gpu_memory: Bytes | None = Field(None, description="only GPUs with at least this memory, e.g. 80GB")
    speed: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="serving speed by GPU type, on the scale of the GPU speeds (H100 1), e.g. {A100: 0.5}"
    )
    speed_reference: str | None = Field(
        None, description="GPU type the service model is measured on (default: the fastest type it may use)"
    )
    replicas: ReplicaCounts = Field(
        description="replica bounds and the count at the start (with `sites`: of each site, its autoscaler its own)"
    )
    sites: list[str] | None = Field(
        None,
        min_length=1,
        description="sites the service runs replicas in, each with its own replicas and autoscaler; a geo load "
        "balancer picks the site of each request (default: one fleet placed anywhere)",
    )
    requests: Requests = Field(description="request arrivals and lengths")
    # Not Optional: the validator below fills it in from `service_time` when that is given instead.
    service_model: ServiceModel = Field(None, description="how one replica serves (or give `service_time`)")
    service_time: ServiceTime | None = Field(
        None,
        discriminator="dist",
        exclude=True,
        description="shorthand for service_model: {time: ...}: the run time of one request, e.g. {dist: lognormal, "
        "median: 120ms, sigma: 0.5}",
    )
    queue_limit: int | None = Field(
        None, ge=0, description="requests waiting on one replica beyond which a new one is rejected (default: no limit)"
    )
    load_balancer: ServicePolicy = Field(
        default_factory=lambda: PolicySpec(name="round_robin"), description="which ready replica gets a request"
    )
    autoscaler: ServicePolicy = Field(
        default_factory=lambda: PolicySpec(name="none"), description="how many replicas (none: a fixed fleet)"
    )
    slo: Slo = Field(default_factory=Slo, description="latency objectives")
    priority: int = Field(
        0, description="a replica that cannot be placed preempts running training jobs of lower priority"
    )
    tenant: str = Field("default", description="tenant the service belongs to (a label)")
    cold_start: Seconds | None = Field(
        None, description="time a new replica takes to become ready (default: model.size over its storage share, or 0)"
    )
    on_replica_loss: Literal["retry", "fail"] = Field(
        "retry",
        description="requests on a replica that fails or is evicted: sent once more to another replica, or failed",
    )
    sample: float = Field(
        1.0,
        gt=0,
        le=1,
        description="an approximation for heavy traffic: simulate this share of the requests on the same share of "
        "the replicas and scale the counts back (exact for independent replicas, close for power_of_two on large "
        "fleets; see docs/background.md, 'Serving'); 1: every request",
    )

    @field_validator("service_time", mode="before")
    @classmethod
    def _bare_service_time(cls, value: Any) -> Any:
        return _fixed_if_scalar(value)

    @model_validator(mode="after")
    def _one_service_model(self) -> Service:
        if (self.service_model is None) == (self.service_time is None):
            both = self.service_model is not None
            raise ValueError(
                "give `service_time` (a run time per request) or `service_model`, not both"
                if both
                else "give `service_model` (how one replica serves, e.g. {time: 200ms}) or its shorthand `service_time`"
            )
        if self.service_time is not None:  # the shorthand becomes what it stands for (a resolved scenario has one)
            object.__setattr__(self, "service_model", ServiceModel(time=self.service_time))
            object.__setattr__(self, "service_time", None)
        return self

    def replicas_at(self, site: str | None) -> ReplicaCounts:
        """The replica counts of one of its sites (None: of the whole fleet of a service without sites)."""
        return self.replicas.at(site)

    @model_validator(mode="after")
    def _sites_once(self) -> Service:
        if self.sites is not None:
            dupes = sorted({s for s in self.sites if self.sites.count(s) > 1})
            if dupes:
                raise ValueError(f"`sites` names {', '.join(dupes)} twice; list each site once")
            stray = [s for s in self.replicas.per_site or {} if s not in self.sites]
            if stray:
                raise ValueError(
                    f"replicas.per_site names {stray[0]!r}, which is not among `sites` ({', '.join(self.sites)})"
                )
        elif self.replicas.per_site is not None:
            raise ValueError("replicas.per_site needs `sites` (the sites the service runs in); give sites: [...]")
        elif self.requests.origin is not None:
            raise ValueError(
                "`requests.origin` needs `sites` (the sites the service runs in): without them, requests add no "
                "network latency; give sites: [...] or drop `origin`"
            )
        return self

    @model_validator(mode="after")
    def _share_of_one(self) -> Service:
        if self.gpu_fraction is not None and self.gpus_per_replica != 1:
            raise ValueError(
                "`gpu_fraction` is a share of one GPU: it needs gpus_per_replica: 1 (a replica of several GPUs "
                "takes them whole); drop one of them"
            )
        return self

    @model_validator(mode="after")
    def _sample_whole(self) -> Service:
        if self.sample < 1:
            r = self.replicas
            counts = {"min": r.min, "max": r.max, "initial": r.start}
            bad = [(k, n) for k, n in counts.items() if abs(n * self.sample - round(n * self.sample)) > 1e-9]
            if bad:
                k, n = bad[0]
                raise ValueError(
                    f"`sample` {self.sample:g} of replicas.{k} ({n}) is {n * self.sample:g} replicas: choose a share "
                    "that makes min, max and initial whole numbers of replicas (the sampled fleet must be the same "
                    "share of the whole as its requests)"
                )
        return self

    @model_validator(mode="after")
    def _utilization_from_zero(self) -> Service:
        a = self.autoscaler
        lowest = min([self.replicas.min, *(self.replicas.at(s).min for s in self.replicas.per_site or {})])
        if a.name == "hpa" and lowest == 0 and a.params.get("metric", "utilization") == "utilization":
            raise ValueError(
                "an `hpa` on utilization never scales up from zero replicas (none is busy, so it asks for none): "
                "use metric: concurrency or request_rate, which count the requests waiting for a replica, or "
                "replicas.min >= 1"
            )
        return self

    @model_validator(mode="after")
    def _tokens_known(self) -> Service:
        model, req = self.service_model, self.requests
        traced = isinstance(req.arrival, RequestTrace)
        if model.tokens:
            has_out = req.output_tokens is not None or (traced and req.arrival.output_tokens is not None)
            if not has_out:
                raise ValueError(
                    "a token service model needs `requests.output_tokens` (e.g. {dist: lognormal, median: 250, "
                    "sigma: 0.7}) or a trace column of them"
                )
            has_in = req.input_tokens is not None or (traced and req.arrival.input_tokens is not None)
            if model.prefill is not None and not has_in:
                raise ValueError("`service_model.prefill` needs `requests.input_tokens` or a trace column of them")
        elif req.input_tokens is not None or req.output_tokens is not None:
            raise ValueError(
                "`requests.input_tokens`/`output_tokens` are read only by a token service model (`decode`); "
                "drop them or describe the service in tokens"
            )
        return self


__all__ = [
    "Decode", "EmpiricalTokens", "ExponentialTokens", "FixedTokens", "LogNormalTokens", "MmppArrival", "ModelSpec",
    "ReplicaCounts", "RequestArrival", "RequestTrace", "Requests", "Service", "ServiceModel", "ServicePolicy",
    "ServiceTime", "SiteReplicaCounts", "Slo", "TokenKinds",
]  # fmt: skip
