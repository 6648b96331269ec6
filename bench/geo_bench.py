"""Several sites' cost: a three-site data center against one site of the same total size.

The workload is run_bench.py's reference at 100,000 jobs (jobs of 1, 2, 4, 8 GPUs; Poisson
arrivals at offered load 0.9; exponential run times of mean 1 h; strict FIFO, first fit)
on 1,250 nodes of 8 GPUs (10,000 GPUs) in racks of 25. "one" is one site of 50 racks;
the other side splits the same racks over three sites (17, 17 and 16 racks), each with
its own hourly electricity price and carbon intensity series (a week, repeating), joined
by a WAN, with a site router choosing each job's site. Each side runs in a fresh process,
the two alternately; medians of ``--repeat``. The issue's target: within 1.5x.

Cases (``--cases``, comma-separated): the router of the three-site side, one of
``least_loaded``, ``lowest_carbon``, ``cheapest_now``, ``follow_the_sun``, ``home``.

    python bench/geo_bench.py [--cases least_loaded,lowest_carbon] [--repeat 3] [--publish]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"

JOBS = 100_000
RACKS = (17, 17, 16)
NODES_PER_RACK = 25
SIZES, WEIGHTS = (1, 2, 4, 8), (0.70, 0.10, 0.15, 0.05)
ROUTERS = ("least_loaded", "lowest_carbon", "cheapest_now", "follow_the_sun", "home")
ZONES = ("America/New_York", "Europe/Stockholm", "Asia/Tokyo")


def _series(folder: Path, name: str, column: str, base: float, swing: float, phase_h: float) -> str:
    """Write a week of hourly values (a daily sine around ``base``); return its file name."""
    path = folder / f"{name}.csv"
    rows = [f"time,{column}"]
    for h in range(168):
        rows.append(f"{h}h,{base * (1 + swing * math.sin(2 * math.pi * (h - phase_h) / 24)):.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path.name


def scenario(sites: int, router: str | None, folder: Path) -> dict:
    """The scenario as data: one site of every rack, or three sites with a router."""
    gpus = sum(RACKS) * NODES_PER_RACK * 8
    mean_gpus = sum(s * w for s, w in zip(SIZES, WEIGHTS, strict=True))
    rate = 0.9 * gpus / (mean_gpus * 3600.0)
    job = {"name": "ref", "arrival": {"process": "poisson", "rate": rate}, "count": JOBS,
           "gpus": {"values": list(SIZES), "weights": list(WEIGHTS)},
           "duration": {"dist": "exponential", "mean": 3600.0}}  # fmt: skip
    policies: dict = {"scheduler": "fifo", "placement": "first_fit"}
    if sites == 1:
        site_list = [{"name": "dc1", "racks": sum(RACKS), "nodes_per_rack": NODES_PER_RACK, "node": {"gpus": 8}}]
        wan: list = []
    else:
        site_list = []
        for i, racks in enumerate(RACKS):
            site_list.append({
                "name": f"dc{i + 1}", "racks": racks, "nodes_per_rack": NODES_PER_RACK, "node": {"gpus": 8},
                "timezone": ZONES[i],
                "electricity_usd_per_kwh": {"series": _series(folder, f"price{i}", "usd_per_kwh", 0.08, 0.3, 8 * i)},
                "carbon_g_per_kwh": {"series": _series(folder, f"carbon{i}", "g_per_kwh", 300, 0.4, 8 * i + 4)},
            })  # fmt: skip
        wan = [{"between": ["dc1", "dc2"], "bandwidth": "100Gbps", "latency": "45ms"},
               {"between": ["dc2", "dc3"], "bandwidth": "100Gbps", "latency": "120ms"}]  # fmt: skip
        policies["site_router"] = router
    return {
        "name": "geo-bench",
        "seed": 1,
        "datacenter": {"sites": site_list, "wan": wan},
        "workload": {"jobs": [job]},
        "policies": policies,
    }


def worker(sites: int, router: str | None) -> dict:
    """Time ``simulate`` of one side in this process."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    with tempfile.TemporaryDirectory() as tmp:
        sc = scenario_from_data(scenario(sites, router, Path(tmp)), tmp)
        t0 = time.perf_counter()
        result = simulate(sc)
        wall = time.perf_counter() - t0
    jobs = result.summary["jobs"]
    return {"wall_s": wall, "completed": jobs["completed"], "mean_wait_s": jobs["mean_wait_s"]}


def side(sites: int, router: str | None) -> dict:
    """One side in a fresh process."""
    cmd = [sys.executable, __file__, "--worker", str(sites), "--router", router or ""]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="least_loaded,lowest_carbon", help=f"comma-separated, of {', '.join(ROUTERS)}")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side (median; default 3)")
    ap.add_argument("--publish", action="store_true",
                    help="write bench/RESULTS-geo.md (default: bench/out/, which git ignores)")  # fmt: skip
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--router", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.router or None)))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in ROUTERS]
    if unknown:
        ap.error(f"unknown case {unknown[0]!r}; one of {', '.join(ROUTERS)}")
    t_start = time.perf_counter()
    rows = []
    for router in cases:
        times: dict[str, list[float]] = {"one": [], "three": []}
        last: dict[str, dict] = {}
        for i in range(args.repeat):
            for s in ("one", "three") if i % 2 == 0 else ("three", "one"):
                last[s] = side(1 if s == "one" else 3, None if s == "one" else router)
                times[s].append(last[s]["wall_s"])
        one, three = statistics.median(times["one"]), statistics.median(times["three"])
        spread = f"{min(times['three']) / max(times['one']):.2f}-{max(times['three']) / min(times['one']):.2f}"
        rows.append(f"| {router} | {JOBS:,} | {one:.2f} | {three:.2f} | {three / one:.2f}x | {spread} "
                    f"| {last['one']['mean_wait_s']:.0f} | {last['three']['mean_wait_s']:.0f} |")  # fmt: skip
        print(rows[-1], flush=True)
    lines = [
        "# Several sites' cost: three sites with a site router against one site of the same size",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()} on {platform.machine()}; benchmark time {time.perf_counter() - t_start:.0f} s",
        f"- command: `python bench/geo_bench.py --cases {','.join(cases)} --repeat {args.repeat}`",
        "- workload: run_bench.py's reference at 100,000 jobs on 10,000 GPUs (1,250 nodes of 8, racks of 25): one",
        "  site of 50 racks, or three of 17, 17 and 16 racks with hourly price and carbon series, time zones and a",
        "  WAN. Each side in a fresh process, alternately; medians. `spread`: the lowest and highest ratio any",
        "  three-site run and one-site run give. Target: within 1.5x.",
        "",
        "| router | jobs | one site s | three sites s | three / one | spread | mean wait one s | mean wait three s |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
        *rows,
    ]
    target = HERE / "RESULTS-geo.md" if args.publish else OUT / "RESULTS-geo.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
