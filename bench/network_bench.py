"""Network contention's cost: runs with communication profiles against the same runs with none.

The workload is run_bench.py's reference (Poisson arrivals at offered load 0.9, exponential
run times of mean 1 h) with multi-node jobs added (16, 32 and 64 GPUs: 10 % of jobs), every
class all-reducing 1 GB per step after 1 s of compute, on a 2:1 leaf-spine of racks of 32
nodes of 8 GPUs: 40 racks (10,240 GPUs) or 400 (102,400). "off" is the same scenario
without communication profiles: the same jobs, never slowed. Each side runs in a fresh
process, the two alternately; medians of ``--repeat``.

Cases (``--cases``, comma-separated):

- ``10k-rack_pack``: 100,000 jobs, 10,240 GPUs, placement ``rack_pack`` (a multi-node job on
  the fewest racks, as one places communication-heavy jobs): the issue's target case, 3x.
- ``10k-first_fit``: the same with ``first_fit``, which ignores the fabric: rings cross
  racks, a quarter of the uplinks are congested, and every change recomputes a component
  of about 90 flows. The hard case for an exact model.
- ``10k-network_aware``: the same with ``network_aware`` (one rack when one holds the job,
  else the fewest racks with the most uplink headroom): the placement that reads the fabric.
- ``100k-rack_pack``: 1,000,000 jobs on 102,400 GPUs with the network on: target under 60 s.

``--where`` times one "on" run of each case with the network's parts wrapped (Sharing's
changes, the rest of the network's bookkeeping, and rescheduling the runs whose rates
moved), which says where the extra time goes.

    python bench/network_bench.py [--cases ...] [--repeat 3] [--where] [--publish]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SIZES = (1, 2, 4, 8, 16, 32, 64)
WEIGHTS = (0.56, 0.1, 0.14, 0.1, 0.05, 0.03, 0.02)
RING = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}
#: name -> (jobs, racks, placement)
CASES = {
    "10k-rack_pack": (100_000, 40, "rack_pack"),
    "10k-first_fit": (100_000, 40, "first_fit"),
    "10k-network_aware": (100_000, 40, "network_aware"),
    "100k-rack_pack": (1_000_000, 400, "rack_pack"),
}


def scenario(jobs: int, network: bool, placement: str = "first_fit", racks: int = 40) -> dict:
    """The scenario as data."""
    gpus, mean_h = racks * 32 * 8, 1.0
    mean_gpus = sum(s * w for s, w in zip(SIZES, WEIGHTS, strict=True))
    rate = 0.9 * gpus / (mean_gpus * mean_h * 3600.0)
    cls = {"name": "ref", "arrival": {"process": "poisson", "rate": rate}, "count": jobs,
           "gpus": {"values": list(SIZES), "weights": list(WEIGHTS)},
           "duration": {"dist": "exponential", "mean": mean_h * 3600.0}}  # fmt: skip
    if network:
        cls["communication"] = RING
    return {
        "name": "network-bench",
        "seed": 1,
        "datacenter": {
            "sites": [
                {
                    "name": "dc1",
                    "racks": racks,
                    "nodes_per_rack": 32,
                    "node": {"gpus": 8},
                    "network": {"nic": "400Gbps", "oversubscription": 2},
                }
            ]
        },
        "workload": {"jobs": [cls]},
        "policies": {"scheduler": "fifo", "placement": placement},
    }


def worker(jobs: int, network: bool, placement: str = "first_fit", racks: int = 40, where: bool = False) -> dict:
    """Time ``simulate`` of one side in this process (``where``: with the network's parts timed)."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    parts = _wrap() if where else None
    sc = scenario_from_data(scenario(jobs, network, placement, racks), str(ROOT))
    t0 = time.perf_counter()
    result = simulate(sc)
    wall = time.perf_counter() - t0
    net = result.summary["network"]
    out = {"wall_s": wall, "slowdown": net["mean_job_slowdown"], "completed": result.summary["jobs"]["completed"]}
    if parts is not None:
        out["parts"] = {name: part[0] for name, part in parts.items()}
        out["calls"] = {name: part[1] for name, part in parts.items()}
    return out


def _wrap() -> dict[str, list[float]]:
    """Wrap the network's parts with timers; return their [exclusive seconds, calls], filled as they run."""
    from dcsim.engine import network, runs
    from dcsim.infra import fabric

    parts: dict[str, list[float]] = {"sharing": [0.0, 0], "reschedule": [0.0, 0], "network_other": [0.0, 0]}
    stack: list[float] = []  # time spent in nested timed parts, per open frame

    def timed(fn, name):  # type: ignore[no-untyped-def]
        def inner(*args, **kwargs):  # type: ignore[no-untyped-def]
            stack.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                total = time.perf_counter() - t0
                nested = stack.pop()
                parts[name][0] += total - nested
                parts[name][1] += 1
                if stack:
                    stack[-1] += total

        return inner

    fabric.Sharing.change = timed(fabric.Sharing.change, "sharing")
    runs.Runs.set_rate = timed(runs.Runs.set_rate, "reschedule")
    network.Network.start = timed(network.Network.start, "network_other")
    network.Network.end = timed(network.Network.end, "network_other")
    return parts


def side(case: str, on: bool, where: bool = False) -> dict:
    """One side of a case in a fresh process."""
    cmd = [sys.executable, __file__, "--worker", case, "--side", "on" if on else "off"] + (["--where"] if where else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side (median; default 3)")
    ap.add_argument("--where", action="store_true", help="also time the network's parts in one more run")
    ap.add_argument("--publish", action="store_true",
                    help="write bench/RESULTS-network.md (default: bench/out/, which git ignores)")  # fmt: skip
    ap.add_argument("--worker", choices=tuple(CASES), help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=("on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        jobs, racks, placement = CASES[args.worker]
        print(json.dumps(worker(jobs, args.side == "on", placement, racks, args.where)))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case {unknown[0]!r}; one of {', '.join(CASES)}")
    t_start = time.perf_counter()
    rows, where_rows = [], []
    for case in cases:
        jobs, racks, placement = CASES[case]
        times: dict[str, list[float]] = {"off": [], "on": []}
        last: dict[str, dict] = {}
        for i in range(args.repeat):
            for s in ("off", "on") if i % 2 == 0 else ("on", "off"):
                last[s] = side(case, s == "on")
                times[s].append(last[s]["wall_s"])
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        spread = f"{min(times['on']) / max(times['off']):.2f}-{max(times['on']) / min(times['off']):.2f}"
        rows.append(f"| {case} | {jobs:,} | {racks * 256:,} | {placement} | {off:.2f} | {on:.2f} | {on / off:.2f}x "
                    f"| {spread} | {last['on']['slowdown']:.4f} |")  # fmt: skip
        print(rows[-1], flush=True)
        if args.where:
            w = side(case, True, where=True)
            p, c = w["parts"], w["calls"]
            rest = w["wall_s"] - sum(p.values())
            where_rows.append(
                f"| {case} | {w['wall_s']:.2f} | {p['sharing']:.2f} ({c['sharing']:,}) "
                f"| {p['network_other']:.2f} ({c['network_other']:,}) | {p['reschedule']:.2f} ({c['reschedule']:,}) "
                f"| {rest:.2f} | {off:.2f} |"
            )
            print(where_rows[-1], flush=True)
    lines = [
        "# The network model's cost: runs with it on against the same runs with it off",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()} on {platform.machine()}; benchmark time {time.perf_counter() - t_start:.0f} s",
        f"- command: `python bench/network_bench.py --cases {','.join(cases)} --repeat {args.repeat}"
        f"{' --where' if args.where else ''}`",
        "- workload: Poisson arrivals at offered load 0.9, exponential run times of mean 1 h, 10 % of jobs on 16 to",
        "  64 GPUs (2 to 8 nodes), each all-reducing 1 GB per step after 1 s of compute; a 2:1 leaf-spine of racks of",
        "  32 nodes of 8 GPUs. Each side in a fresh process, alternately; medians. `spread`: the lowest and highest",
        "  ratio any on-run and off-run give.",
        "",
        "| case | jobs | GPUs | placement | off s | on s | on / off | spread | mean job slowdown |",
        "|---|---:|---:|---|---:|---:|---:|---|---:|",
        *rows,
    ]
    if where_rows:
        lines += [
            "",
            "Where the time goes (one more on-run with the parts timed, exclusive seconds and calls): `Sharing` is",
            "the max-min bookkeeping (congestion, the walk, the solve); `network other` the flows' set-up, traffic",
            "accounting and records; `reschedule` moving the end of each run whose rate moved (`Runs.set_rate`);",
            "`the rest` everything else, to compare with the off-run.",
            "",
            "| case | on s (timed) | Sharing s (changes) | network other s (calls) | reschedule s (runs moved) "
            "| the rest s | off s |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *where_rows,
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = (HERE if args.publish else HERE / "out") / "RESULTS-network.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
