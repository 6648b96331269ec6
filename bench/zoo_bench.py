"""The policy zoo's speed: EASY backfill and Tiresias on the heavy case against strict FIFO.

The heavy case of ``run_bench.py`` (jobs of 1 to 64 GPUs, offered load 0.97, 1,000 GPUs,
100,000 jobs; strict FIFO builds queues of thousands) is run with ``fifo``, ``easy_backfill``
and ``tiresias`` (default parameters; ``preemption: {save: on_preemption}``, so a preempted job
resumes where it stopped, as Tiresias assumes), each ``simulate`` in a fresh process
(``run_bench.py --worker``), the schedulers in turn, A B C A B C ..., so that all see the same
load on a shared machine; medians of wall and CPU (process) time. Target (issue 15): within 3x
of strict FIFO.

    python bench/zoo_bench.py --repeat 5 [--jobs 100000] [--publish]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_bench import CHILD_ENV, HEAVY_MIX, HEAVY_NODES, ROOT, Case, last_json, machine  # noqa: E402

SCHEDULERS = ("", "easy_backfill", "tiresias")  # "": strict FIFO
TARGET = 3.0


def one(case: Case) -> dict:
    """One ``run_bench.py --worker`` run of ``case`` in a fresh process."""
    cmd = [sys.executable, str(HERE / "run_bench.py"), "--worker", json.dumps(asdict(case))]
    out = subprocess.run(cmd, env=CHILD_ENV, capture_output=True, text=True, check=True, cwd=ROOT)
    return last_json(out.stdout)


def main(argv: list[str] | None = None) -> int:
    """Run the schedulers in turn and print (and with --publish write) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000, help="jobs of the heavy case (default 100000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per scheduler (medians)")
    ap.add_argument("--publish", action="store_true", help="write bench/RESULTS-zoo.md")
    args = ap.parse_args(argv)
    base = Case("heavy", args.jobs, *HEAVY_MIX, load=0.97, fixed_nodes=HEAVY_NODES)
    runs: dict[str, list[dict]] = {s: [] for s in SCHEDULERS}
    for _ in range(args.repeat):
        for scheduler in SCHEDULERS:
            result = one(replace(base, scheduler=scheduler))
            runs[scheduler].append(result)
            print(f"{scheduler or 'fifo':<14} wall {result['wall_s']:7.2f} s  cpu {result['cpu_s']:7.2f} s", flush=True)
    fifo_wall = statistics.median(r["wall_s"] for r in runs[""])
    fifo_cpu = statistics.median(r["cpu_s"] for r in runs[""])
    rows = []
    for scheduler in SCHEDULERS:
        wall = statistics.median(r["wall_s"] for r in runs[scheduler])
        cpu = statistics.median(r["cpu_s"] for r in runs[scheduler])
        ratios = sorted(r["wall_s"] / f["wall_s"] for r, f in zip(runs[scheduler], runs[""], strict=True))
        wait = runs[scheduler][0]["mean_wait_s"]
        rows.append(
            f"| {scheduler or 'fifo (strict)'} | {args.jobs:,} | {wall:.2f} | {cpu:.2f} | {wall / fifo_wall:.2f}x | "
            f"{cpu / fifo_cpu:.2f}x | {ratios[0]:.2f}-{ratios[-1]:.2f} | {wait:,.0f} |"
        )
    table = (
        "| scheduler | jobs | wall s | CPU s | wall / fifo | CPU / fifo | spread (wall) | mean wait s |\n"
        "|---|---:|---:|---:|---:|---:|---|---:|\n" + "\n".join(rows)
    )
    print(table)
    if args.publish:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        (HERE / "RESULTS-zoo.md").write_text(
            "# The policy zoo's speed: EASY backfill and Tiresias against strict FIFO\n\n"
            f"- date: {now}; {machine()}\n"
            f"- command: `python bench/zoo_bench.py {' '.join(argv or sys.argv[1:])}`\n"
            "- workload: run_bench.py's heavy case (1 to 64 GPUs, load 0.97, 1,000 GPUs); each `simulate` in a fresh\n"
            "  process, the schedulers in turn; medians. `spread`: the lowest and highest ratio of a run to the\n"
            f"  FIFO run of its round. Target: within {TARGET:g}x of strict FIFO.\n\n" + table + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
