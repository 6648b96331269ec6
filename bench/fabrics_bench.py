"""The network's cost on each fabric: network_bench.py's workload on a leaf-spine, a fat-tree and a rail-optimized site.

The same jobs (network_bench.py's reference: 10 % multi-node jobs of 16 to 64 GPUs, every class
all-reducing 1 GB per step after 1 s of compute) on the same 40 racks of 32 nodes of 8 GPUs,
placed first fit, with the site's fabric one of:

- ``leaf_spine``: 400 Gb/s NICs, 2:1 leaves;
- ``fat_tree``: k = 64 (a rack of 32 nodes is an edge switch), 400 Gb/s NICs, edges 2:1, core 1:1;
- ``rail_optimized``: a 50 Gb/s NIC per GPU, rail groups of 32 nodes, 2:1 rail uplinks;
- ``leaf_spine-failures``: the leaf-spine with links (MTBF 20,000 h) and switches (10,000 h)
  failing, repaired in 4 h by 8 technicians, on both sides.

"off" is the same scenario without communication profiles (no fabric is built unless links or
switches fail). Each side in a fresh process, alternately; medians of ``--repeat``. Results go
to bench/out/RESULTS-fabrics.md, or with ``--publish`` to bench/RESULTS-fabrics.md.

    python bench/fabrics_bench.py [--jobs 20000] [--cases leaf_spine,fat_tree] [--repeat 3] [--publish]
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
sys.path.insert(0, str(HERE))

from network_bench import scenario as reference  # noqa: E402

#: case -> (the site's network block, whether links and switches fail)
CASES = {
    "leaf_spine": ({"nic": "400Gbps", "oversubscription": 2}, False),
    "fat_tree": ({"topology": "fat_tree", "k": 64, "nic": "400Gbps", "oversubscription": 2}, False),
    "rail_optimized": ({"topology": "rail_optimized", "nic": "50Gbps", "rail_group": 32, "oversubscription": 2}, False),
    "leaf_spine-failures": ({"nic": "400Gbps", "oversubscription": 2}, True),
}


def scenario(jobs: int, network: bool, case: str) -> dict:
    """network_bench.py's scenario (first fit, 40 racks) on the case's fabric."""
    net, failures = CASES[case]
    data = reference(jobs, network, "first_fit", 40)
    data["datacenter"]["sites"][0]["network"] = net
    if failures:
        data["failures"] = {"link": {"mtbf": "20000h"}, "switch": {"mtbf": "10000h"}}
        data["repair"] = {"technicians": 8, "time": {"dist": "fixed", "value": "4h"}}
    return data


def worker(jobs: int, network: bool, case: str) -> dict:
    """Time ``simulate`` of one side in this process."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    sc = scenario_from_data(scenario(jobs, network, case), str(ROOT))
    t0 = time.perf_counter()
    result = simulate(sc)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "slowdown": result.summary["network"]["mean_job_slowdown"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--publish", action="store_true", help="write bench/RESULTS-fabrics.md (default: bench/out/)")
    ap.add_argument("--worker", choices=tuple(CASES), help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=("on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.jobs, args.side == "on", args.worker)))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case {unknown[0]!r}; one of {', '.join(CASES)}")
    rows = []
    for case in cases:
        times: dict[str, list[float]] = {"off": [], "on": []}
        last: dict[str, dict] = {}
        for i in range(args.repeat):
            for s in ("off", "on") if i % 2 == 0 else ("on", "off"):
                cmd = [sys.executable, __file__, "--jobs", str(args.jobs), "--worker", case, "--side", s]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                last[s] = json.loads(out.stdout.strip().splitlines()[-1])
                times[s].append(last[s]["wall_s"])
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        rows.append(f"| {case} | {off:.2f} | {on:.2f} | {on / off:.1f}x | {last['on']['slowdown']:.3f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "# The network's cost on each fabric",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} "
        f"on {platform.machine()}",
        f"- command: `python bench/fabrics_bench.py --jobs {args.jobs} --cases {','.join(cases)} "
        f"--repeat {args.repeat}`",
        "",
        "| case | off s | on s | on / off | mean job slowdown |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]) + "\n"  # fmt: skip
    out_path = (HERE if args.publish else HERE / "out") / "RESULTS-fabrics.md"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
