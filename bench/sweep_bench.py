"""Sweep speed-up: a 16-run sweep on 1 worker, on a local pool of 2, and on a 2-worker Dask LocalCluster.

    python bench/sweep_bench.py            # writes bench/RESULTS-sweep.md
    python bench/sweep_bench.py --quick    # shorter runs, prints only

The sweep: ``scenarios/quickstart.yaml`` with a 4-value rack grid x 4 seeds = 16 runs of
about 1.5 s each at 500 days (``--set horizon=...``). Each case starts from an empty output directory,
in a fresh process, timed from outside (start-up, planning, worker start, runs, tables).
The target is a speed-up of at least 1.7 on 2 workers. The tables of every case must be
the same bytes, which is checked.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run_bench import machine, md_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLUMNS = ("executor", "workers", "wall s", "speed-up", "runs")


def sweep(out: Path, horizon: str, executor: str, workers: int) -> float:
    cmd = [sys.executable, "-m", "dcsim", "sweep", str(ROOT / "scenarios" / "quickstart.yaml"),
           "--grid", "datacenter.sites.0.racks=6,7,8,9", "--replications", "4", "--set", f"horizon={horizon}",
           "--out", str(out), "--executor", executor, "--workers", str(workers)]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs; print only")
    parser.add_argument("--publish", action="store_true",
                        help="write bench/RESULTS-sweep.md (default: bench/out/RESULTS-sweep.md, which git "
                        "ignores)")  # fmt: skip
    args = parser.parse_args()
    horizon = "60d" if args.quick else "500d"
    rows, walls = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for executor, workers in (("local", 1), ("local", 2), ("dask", 2)):
            out = Path(tmp) / f"{executor}{workers}"
            walls[executor, workers] = wall = sweep(out, horizon, executor, workers)
            speed = walls["local", 1] / wall
            rows.append([executor, str(workers), f"{wall:.1f}", f"{speed:.2f}", "16"])
            print(f"{executor} x{workers}: {wall:.1f} s, speed-up {speed:.2f}", flush=True)
        first = (Path(tmp) / "local1" / "runs.parquet").read_bytes()
        same = all((Path(tmp) / d / "runs.parquet").read_bytes() == first for d in ("local2", "dask2"))
    print(f"tables identical across executors: {same}")
    if args.quick:
        return 0 if same else 1
    text = [
        "# dcsim sweep speed-up",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {machine()}",
        "- command: `python bench/sweep_bench.py`",
        "",
        f"16 runs (`scenarios/quickstart.yaml`, `--grid datacenter.sites.0.racks=6,7,8,9 --replications 4 --set "
        f"horizon={horizon}`), each case from an empty directory in a fresh process, timed from outside.",
        "",
        md_table(rows, COLUMNS),
        "",
        f"Tables (runs.parquet) byte-identical across the three cases: {same}. Target: speed-up >= 1.7 on 2 workers.",
        "",
    ]
    path = (HERE if args.publish else HERE / "out") / "RESULTS-sweep.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {path}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
