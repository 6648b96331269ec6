"""A/B: this checkout's engine against another revision's, measured alternately in one run.

For a restructuring that must keep the speed (within 10 %), two benchmark runs made
apart mislead on a shared machine: load varies by tens of percent from minute to
minute. This runs the cases of ``run_bench.py`` (its ``--worker``, in a fresh process
each time) for both trees alternately, A B A B ..., so both see the same load, and
reports each side's median wall time of ``simulate`` and their ratio.

    git worktree add --detach /tmp/old REV
    python bench/ab_bench.py /tmp/old --repeat 5

The other tree must have ``bench/run_bench.py`` with the same ``--worker`` interface.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run_bench import HEAVY_MIX, HEAVY_NODES, REF_MIX, Case, last_json  # noqa: E402

CASES = {
    "ref-100k": Case("ref", 100_000, *REF_MIX, load=0.9),
    "heavy-fifo-100k": Case("heavy-fifo", 100_000, *HEAVY_MIX, load=0.97, fixed_nodes=HEAVY_NODES),
    "heavy-backfill-100k": Case(
        "heavy-backfill", 100_000, *HEAVY_MIX, load=0.97, backfill=True, fixed_nodes=HEAVY_NODES
    ),
    "ref-1m": Case("ref", 1_000_000, *REF_MIX, load=0.9),
    # The policy zoo on the heavy case (bench/zoo_bench.py compares them with strict FIFO).
    "heavy-easy-100k": Case(
        "heavy-easy", 100_000, *HEAVY_MIX, load=0.97, fixed_nodes=HEAVY_NODES, scheduler="easy_backfill"
    ),
    "heavy-tiresias-100k": Case(
        "heavy-tiresias", 100_000, *HEAVY_MIX, load=0.97, fixed_nodes=HEAVY_NODES, scheduler="tiresias"
    ),
}
#: Cases of reliability_bench.py (100,000 GPUs, 30 days), run by its own --worker.
RELIABILITY = ("off", "on", "on-young-daly", "on-maint", "on-spares", "failures-only", "on-x10")


def one(tree: Path, name: str) -> dict:
    """One worker run of case ``name`` with ``tree``'s dcsim, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if name in CASES:
        cmd = [sys.executable, str(tree / "bench" / "run_bench.py"), "--worker", json.dumps(asdict(CASES[name]))]
    else:
        cmd = [sys.executable, str(tree / "bench" / "reliability_bench.py"), "--worker", name]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    return last_json(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the other tree (a worktree of the revision to compare against)")
    ap.add_argument(
        "--cases",
        default="ref-100k,heavy-fifo-100k,heavy-backfill-100k",
        help=f"comma-separated, of {', '.join([*CASES, *RELIABILITY])} (reliability_bench's)",
    )
    ap.add_argument("--repeat", type=int, default=5, help="runs per side and case (median reported)")
    ap.add_argument("--publish", action="store_true", help="also write the table to bench/RESULTS-ab.md")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'case':<22} {'this':>9} {'other':>9} {'this/other':>11}  (median wall s of simulate, alternating)")
    for name in args.cases.split(","):
        if name not in CASES and name not in RELIABILITY:
            ap.error(f"unknown case {name!r}")
        this: list[float] = []
        other: list[float] = []
        for i in range(args.repeat):
            order = [(ROOT, this), (args.other, other)]
            for tree, times in order if i % 2 == 0 else order[::-1]:
                times.append(one(tree, name)["wall_s"])
        a, b = statistics.median(this), statistics.median(other)
        rows.append(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.3f} |")
        print(f"{name:<22} {a:>9.3f} {b:>9.3f} {a / b:>11.3f}", flush=True)
    if args.publish:
        revs = [subprocess.run(["git", "-C", str(t), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                               check=False).stdout.strip() for t in (ROOT, args.other)]  # fmt: skip
        (HERE / "RESULTS-ab.md").write_text(
            f"# A/B: this tree ({revs[0]}) against {revs[1]}\n\n"
            f"`python bench/ab_bench.py {' '.join(argv or sys.argv[1:]).replace(str(args.other), 'OTHER_TREE')}`: "
            "each case's `simulate` "
            f"timed in a fresh process, the two trees alternately, {args.repeat} runs per side; medians.\n\n"
            "| case | this (s) | other (s) | this / other |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
