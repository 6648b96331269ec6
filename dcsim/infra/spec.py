"""The infrastructure's part of the scenario schema: sites > racks > nodes, the fabric, and what a site owns.

A site owns its prices (:class:`SiteCosts`, on top of the scenario-wide :class:`Costs`; the
site's own ``electricity_usd_per_kwh``, ``carbon_g_per_kwh``, ``pue`` and ``gpu_hour_usd`` are
the shorthand of its ``costs`` block), a time zone, and may have a repair crew of its own
(:class:`SiteRepair`, whose hours are :class:`WorkingHours`, also the scenario-wide crew's).
A price or carbon intensity is a constant or a :class:`SeriesFile` (read by
:mod:`dcsim.infra.sites`). :mod:`dcsim.scenario.schema` composes this with the other
packages' specs into the whole scenario.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from dcsim.core.spec import BitsPerSecond, Bytes, Seconds, Strict, Watts
from dcsim.core.text import quote

MAX_PRICE = 1e6
"""Largest price (USD per GPU-hour or per kWh): costs over the longest horizon stay finite."""
MAX_CARBON = 1e5
"""Largest carbon intensity, g CO2e per kWh (the dirtiest grids are about 1,000)."""
MAX_GPUS = 10_000_000
"""Most GPUs in a data center (and in one job): far above any data center today, and a bound on the memory
and time that building the topology takes."""


class WorkingHours(Strict):
    """When technicians work: hands-on repair only progresses inside these hours."""

    start: Seconds = Field(
        8 * 3600.0,
        description="start of the working day (time of day: the site's local time when it has a `timezone`, "
        "else UTC; the run starts at the scenario's `start`, by default Monday 2024-01-01 00:00 UTC)",
    )
    end: Seconds = Field(18 * 3600.0, description="end of the working day (time of day, as `start`)")
    days: Literal["all", "weekdays"] = Field(
        "weekdays", description="weekdays: Monday to Friday of the calendar (by default day 0 is a Monday)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if not self.start < self.end <= 86400.0:
            raise ValueError("working hours need 0 <= start < end <= 24h")
        return self


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


class SeriesFile(Strict):
    """A value that changes over the run, read from a CSV file of one row per change."""

    series: str = Field(
        min_length=1,
        description="CSV file, relative to the scenario file, with columns `time` (a duration from the run's start: "
        "0h, 1h, or seconds; the first 0, ascending) and the value (`usd_per_kwh` for a price, `g_per_kwh` for a "
        "carbon intensity); each value holds until the next row's time, the last for as long as the step before "
        "it, and a series shorter than the run repeats",
    )


def _number_or_series(value: Any) -> str:
    """Which branch a value takes: a mapping is a series file, anything else a number (one error, not two)."""
    return "series" if isinstance(value, dict | SeriesFile) else "number"


#: A price per kWh: a constant, or a series from a file.
Price = Annotated[
    Annotated[Annotated[float, Field(ge=0, le=MAX_PRICE)], Tag("number")] | Annotated[SeriesFile, Tag("series")],
    Discriminator(_number_or_series),
]
#: A carbon intensity in g CO2e per kWh: a constant, or a series from a file.
Carbon = Annotated[
    Annotated[Annotated[float, Field(ge=0, le=MAX_CARBON)], Tag("number")] | Annotated[SeriesFile, Tag("series")],
    Discriminator(_number_or_series),
]

GpuHourPrices = Annotated[dict[str, Annotated[float, Field(ge=0, le=MAX_PRICE)]], BeforeValidator(_price_shorthand)]


class Costs(Strict):
    """Prices. Capital is per installed GPU-hour; energy is metered at the facility (x PUE).

    These are every site's prices, save those a site sets in its own `costs` block (field by field).
    """

    gpu_hour_usd: GpuHourPrices = Field(
        default_factory=lambda: {"*": 2.0},
        description="capital + operations per installed GPU-hour, in USD: one number or one per GPU type",
        json_schema_extra={"x-unit": "USD per GPU-hour"},
    )
    electricity_usd_per_kwh: Price = Field(
        0.10, description="electricity price, USD/kWh: a number, or {series: FILE} (columns time, usd_per_kwh)"
    )
    pue: float = Field(1.3, ge=1, le=10, description="power usage effectiveness: facility / IT power")
    carbon_g_per_kwh: Carbon | None = Field(
        None,
        description="carbon intensity of the electricity, g CO2e/kWh: a number, or {series: FILE} (columns time, "
        "g_per_kwh); default none: carbon is not counted (cost.carbon_kg is null) at a site without its own",
    )
    cpu_core_hour_usd: float = Field(
        0.0316,
        ge=0,
        le=MAX_PRICE,
        description="capital per installed CPU core-hour of nodes that declare `cpu`, in USD (default: GCP N2 "
        "on-demand vCPU list price, us-central1)",
        json_schema_extra={"x-unit": "USD per core-hour"},
    )
    memory_gb_hour_usd: float = Field(
        0.00395,
        ge=0,
        le=MAX_PRICE,
        description="capital per installed GB-hour (10^9 bytes) of host memory of nodes that declare `memory`, in "
        "USD (default: GCP N2 on-demand memory list price, 0.00424 per GiB-hour)",
        json_schema_extra={"x-unit": "USD per GB-hour"},
    )

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

    gpu_hour_usd: GpuHourPrices | None = Field(
        None,
        description="capital + operations per installed GPU-hour at this site, in USD: one number or one per GPU "
        "type (a type without a price here, and no '*' here, takes the scenario-wide price)",
        json_schema_extra={"x-unit": "USD per GPU-hour"},
    )
    electricity_usd_per_kwh: Price | None = Field(
        None, description="electricity price at this site, USD/kWh: a number, or {series: FILE}"
    )
    pue: float | None = Field(None, ge=1, le=10, description="power usage effectiveness of this site")
    carbon_g_per_kwh: Carbon | None = Field(
        None, description="carbon intensity at this site, g CO2e/kWh: a number, or {series: FILE}"
    )


#: The fields a site may set directly, as the shorthand of its `costs` block.
SITE_COST_FIELDS = tuple(SiteCosts.model_fields)


class NodeSpec(Strict):
    """A GPU server. Power, memory and speed defaults depend on the GPU type (the tables: docs/background.md)."""

    gpus: int = Field(8, ge=0, description="GPUs per node (0: a CPU-only node)")
    gpu_type: str = Field("H100", description="GPU model name: sets power, memory and speed defaults")
    cpu: float | None = Field(
        None, ge=0, description="CPU cores of the node, e.g. 96 (none: CPU is not modelled; requests of it need it)"
    )
    memory: Bytes | None = Field(
        None, description="host memory of the node, e.g. 512GB (none: memory is not modelled; requests need it)"
    )
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


#: The fields each fabric reads (``nic`` and ``oversubscription`` have defaults; the others are None when not given).
FABRIC_FIELDS: dict[str, tuple[str, ...]] = {
    "leaf_spine": ("nic", "oversubscription", "spines"),
    "fat_tree": ("nic", "oversubscription", "core_oversubscription", "k"),
    "rail_optimized": ("nic", "oversubscription", "spines", "rail_group"),
    "custom": ("path",),
}


class Network(Strict):
    """The fabric inside a site: it slows the jobs whose class has a `communication` profile and spans nodes.

    Links are shared max-min fairly by the jobs' flows; each tier's parallel links (a switch's
    uplinks) are one bundle of their summed capacity, which is exact for fluid, perfectly
    spread ECMP. Which fields a topology reads: leaf_spine `nic`, `oversubscription`, `spines`;
    fat_tree `nic`, `oversubscription`, `core_oversubscription`, `k`; rail_optimized `nic` (per
    GPU), `oversubscription`, `spines`, `rail_group`; custom `path`. Giving another is an error.
    """

    topology: Literal["leaf_spine", "fat_tree", "rail_optimized", "custom"] = Field(
        "leaf_spine",
        description="fabric shape: leaf_spine (racks' leaves to spines), fat_tree (k-ary, racks are edge "
        "switches), rail_optimized (GPU i of every node on rail i, a NIC per GPU), custom (a graph from `path`)",
    )
    nic: BitsPerSecond = Field(
        400e9,
        description="each node's link to its leaf or edge switch, each way; on rail_optimized each GPU's own NIC "
        "to its rail switch (default 400Gbps)",
    )
    oversubscription: float = Field(
        1.0, ge=1,
        description="a leaf's (fat_tree: an edge switch's; rail_optimized: a rail switch's) NIC capacity over its "
        "uplink capacity (4: a quarter; default 1, full bisection)",
    )  # fmt: skip
    core_oversubscription: float | None = Field(
        None, ge=1,
        description="fat_tree only: an aggregation switch's capacity from its pod's edge switches over its "
        "capacity to the core (default 1)",
    )  # fmt: skip
    spines: int | None = Field(
        None, ge=1,
        description="spine switches (leaf_spine, rail_optimized): each leaf or rail switch has one uplink to each, "
        "so a failed spine or uplink takes 1/spines of its uplinks (default: enough for 64-port switches)",
    )  # fmt: skip
    k: int | None = Field(
        None, ge=2, le=1024,
        description="fat_tree only: the switches' port count, even: k pods of k/2 edge and k/2 aggregation "
        "switches, (k/2)^2 cores; a rack is an edge switch of up to k/2 nodes (default: the smallest k that "
        "holds the site)",
    )  # fmt: skip
    rail_group: int | None = Field(
        None, ge=1,
        description="rail_optimized only: nodes per rail group, one rail switch per GPU index per group, in node "
        "order (at most the rail switch's GPU-facing ports; default 32)",
    )  # fmt: skip
    path: str | None = Field(
        None,
        description="custom only: the fabric's graph, relative to the scenario file: GraphML (.graphml, edge "
        "attribute `capacity`) or an edge list (`a b capacity` a line); nodes are vertices node:<id>",
    )

    @model_validator(mode="after")
    def _fields_of_topology(self) -> Network:
        reads = FABRIC_FIELDS[self.topology]
        # A field counts as given when it differs from its default (a dumped scenario lists every field).
        fields = type(self).model_fields
        stray = [
            name for name in self.model_fields_set
            if name != "topology" and name not in reads and getattr(self, name) != fields[name].default
        ]  # fmt: skip
        if stray:
            names = ", ".join(sorted(stray))
            users = sorted({t for t, fields in FABRIC_FIELDS.items() for name in stray if name in fields})
            raise ValueError(
                f"{names}: not read by a {self.topology} fabric (it reads {', '.join(reads)}); remove "
                f"{'it' if len(stray) == 1 else 'them'}" + (f" or set topology: {' or '.join(users)}" if users else "")
            )
        if self.topology == "custom" and not self.path:
            raise ValueError("a custom fabric needs `path`: its graph file (GraphML or an edge list)")
        if self.k is not None and self.k % 2:
            raise ValueError(f"k: {self.k} is odd; a k-ary fat-tree needs an even k (e.g. {self.k + 1})")
        return self


class Storage(Strict):
    """A site's shared storage: checkpoint writes and restart reads share its bandwidth, max-min fairly.

    Only checkpoints with a `size` use it (a fixed `write` time does not). Each node of a job
    reads and writes its part of the checkpoint, at most at its NIC's speed (`network.nic`);
    the bandwidth is shared fairly among the nodes moving data at that moment.
    """

    bandwidth: BitsPerSecond = Field(
        description="the site's storage bandwidth, shared by every checkpoint write and restart read at the site, "
        "e.g. 200GB/s (bytes per second; 1.6Tbps is the same in bits)"
    )
    rack_bandwidth: BitsPerSecond | None = Field(
        None,
        description="each rack's own limit on its nodes' storage traffic (its link to the storage network), on top "
        "of the site's, e.g. 25GB/s (default: none, only the site's bandwidth and the nodes' NICs)",
    )


class Site(Strict):
    """A data center: racks of nodes, either uniform (`racks`, `nodes_per_rack`, `node`) or `rack_groups`."""

    name: str = Field(description="site name, unique")
    racks: int | None = Field(None, ge=1, description="racks (uniform site)")
    nodes_per_rack: int | None = Field(None, ge=1, description="nodes per rack (uniform site)")
    node: NodeSpec | None = Field(None, description="node model (uniform site)")
    rack_groups: list[RackGroup] | None = Field(None, description="heterogeneous racks")
    network: Network = Field(default_factory=Network, description="the site's fabric")
    storage: Storage | None = Field(
        None,
        description="the site's shared storage bandwidth, for checkpoints with a `size` (none: checkpoints take "
        "their fixed `write` time; a `size` needs it)",
    )
    costs: SiteCosts | None = Field(
        None, description="the site's own prices; a field it does not set is the scenario-wide `costs` one"
    )
    timezone: str | None = Field(
        None,
        description="the site's time zone, an IANA name such as America/New_York (daylight saving included): its "
        "technicians' working hours are in this local time (default: UTC)",
    )
    electricity_usd_per_kwh: Price | None = Field(
        None,
        description="shorthand of costs.electricity_usd_per_kwh: the site's electricity price, USD/kWh, a number or "
        "{series: FILE} (columns time, usd_per_kwh)",
    )
    carbon_g_per_kwh: Carbon | None = Field(
        None,
        description="shorthand of costs.carbon_g_per_kwh: the site's carbon intensity, g CO2e/kWh, a number or "
        "{series: FILE} (columns time, g_per_kwh)",
    )
    pue: float | None = Field(None, ge=1, le=10, description="shorthand of costs.pue: the site's PUE")
    gpu_hour_usd: GpuHourPrices | None = Field(
        None,
        description="shorthand of costs.gpu_hour_usd: USD per installed GPU-hour at this site (one number or one per "
        "GPU type)",
        json_schema_extra={"x-unit": "USD per GPU-hour"},
    )
    repair: SiteRepair | None = Field(
        None,
        description="the site's own repair crew, which repairs only this site's failures; a field it does not set "
        "is the scenario-wide `repair` one (without it, the site shares the scenario-wide crew)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"no time zone {quote(name)}: give an IANA name such as America/New_York, Europe/Stockholm or UTC"
            ) from None
        return name

    @model_validator(mode="after")
    def _costs_once(self) -> Site:
        if self.costs is None:
            return self
        twice = [name for name in SITE_COST_FIELDS if getattr(self, name) is not None and getattr(self.costs, name)
                 is not None]  # fmt: skip
        if twice:
            raise ValueError(
                f"{twice[0]}: given both on the site and in its `costs` block; give it once (the site's "
                f"`{twice[0]}` is the shorthand of costs.{twice[0]})"
            )
        return self

    def own_costs(self) -> SiteCosts | None:
        """The site's own prices: its `costs` block with the fields it sets directly (None: it sets none)."""
        direct = {name: getattr(self, name) for name in SITE_COST_FIELDS if getattr(self, name) is not None}
        if not direct:
            return self.costs
        return self.costs.model_copy(update=direct) if self.costs is not None else SiteCosts(**direct)

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

    @model_validator(mode="after")
    def _fabric_fits(self) -> Site:
        net = self.network
        if net.topology != "fat_tree" or net.k is None:
            return self
        racks = sum(g.racks for g in self.groups)
        per_rack = max(g.nodes_per_rack for g in self.groups)
        if per_rack > net.k // 2 or racks > net.k * net.k // 2:
            raise ValueError(
                f"network.k: a {net.k}-ary fat-tree has {net.k * net.k // 2} edge switches of {net.k // 2} nodes; "
                f"site {self.name!r} has {racks} racks of up to {per_rack} nodes: raise k, or leave it out (the "
                "smallest k that holds the site)"
            )
        return self

    @property
    def groups(self) -> list[RackGroup]:
        """The site's racks as rack groups (a uniform site is one group)."""
        if self.rack_groups:
            return list(self.rack_groups)
        assert self.racks is not None and self.nodes_per_rack is not None
        return [RackGroup(racks=self.racks, nodes_per_rack=self.nodes_per_rack, node=self.node or NodeSpec())]


class WanLink(Strict):
    """A wide-area link between two sites: data moved between them shares its bandwidth max-min fairly."""

    between: tuple[str, str] = Field(description="the two sites it joins, by name")
    bandwidth: BitsPerSecond = Field(description="capacity each way, e.g. 100Gbps (bits per second)")
    latency: Seconds = Field(description="one-way propagation delay, e.g. 45ms (a round trip is twice it)")

    @model_validator(mode="after")
    def _two_sites(self) -> WanLink:
        if self.between[0] == self.between[1]:
            raise ValueError(f"between: a link joins two different sites, not {self.between[0]!r} with itself")
        return self


class Datacenter(Strict):
    """Sites > racks > nodes > GPUs, and the WAN between the sites."""

    sites: list[Site] = Field(min_length=1, description="the sites")
    wan: list[WanLink] = Field(
        default_factory=list,
        description="links between sites (a graph: traffic between sites without a direct link takes the path of "
        "least latency); without it, sites exchange no data and remote serving adds no latency",
    )

    @model_validator(mode="after")
    def _unique_sites(self) -> Datacenter:
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            raise ValueError("site names must be unique")
        known = set(names)
        pairs: set[frozenset[str]] = set()
        for i, link in enumerate(self.wan):
            unknown = [n for n in link.between if n not in known]
            if unknown:
                raise ValueError(
                    f"wan.{i}.between: no site named {quote(unknown[0])}; the sites are {', '.join(map(quote, names))}"
                )
            pair = frozenset(link.between)
            if pair in pairs:
                raise ValueError(f"wan.{i}: a second link between {link.between[0]} and {link.between[1]}; give one")
            pairs.add(pair)
        gpus = sum(g.racks * g.nodes_per_rack * g.node.gpus for s in self.sites for g in s.groups)
        if gpus > MAX_GPUS:
            many = f"{gpus:,}" if gpus < 10**15 else "over 10^15"
            raise ValueError(
                f"{many} GPUs in all: dcsim models at most {MAX_GPUS:,}; give fewer racks, nodes or GPUs per node"
            )
        return self
