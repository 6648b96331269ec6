"""dcsim reliability benchmark: 100,000 GPUs for 30 days with failures, repair, checkpoints, maintenance.

One command::

    python bench/reliability_bench.py                     # every case, 3 runs each (median): ~2.5 min on 2 cores
    python bench/reliability_bench.py --repeat 1          # one run each
    python bench/reliability_bench.py --cases on,off      # some cases only
    python bench/reliability_bench.py --profile on        # one run of a case under cProfile: the hot spots
    python bench/reliability_bench.py --dump on > on.yaml # a case's scenario as YAML (for `dcsim run`)

The data center: one site of 3,125 racks x 4 nodes x 8 H100 = 12,500 nodes, 100,000 GPUs;
horizon 30 days; FIFO with greedy backfill, first fit. The workload, three job classes
(about 110,000 jobs in 30 days; offered load 0.87 of the installed GPUs):

- ``dev``: 1, 2, 4, 8 GPUs (weights 0.40, 0.15, 0.15, 0.30), log-normal run time, mean 2 h, sigma 1; 100/h
- ``mid``: 16, 32, 64 GPUs (0.40, 0.35, 0.25), log-normal, mean 12 h, sigma 1; 40/h
- ``large``: 128, 256, 512 GPUs (0.50, 0.30, 0.20), log-normal, mean 24 h, sigma 0.8; 12/h

each checkpointing every 1 h of work (1 min blocking write, 5 min restart). Failures: GPU
MTBF 60,000 h (exponential), node 30,000 h (Weibull, shape 0.8), rack 200,000 h
(exponential); half the failures are fixed by a 10 min reboot, the rest by one of 8
technicians (exponential hands-on time, mean 4 h, around the clock). bench/README.md gives
the sources of these figures.

Cases (``CASES``):

- ``off-plain``: the workload, no failures and no checkpoints (dcsim's lean path)
- ``off``: the workload with checkpoints, no failures (per-node job tracking on)
- ``on``: the workload with checkpoints and failures
- ``on-young-daly``: as ``on``, checkpoint ``interval: young_daly`` (per job, from its blast radius)
- ``on-maint``: as ``on``, plus rolling maintenance of racks 0-19 from day 2 (2 h each, drain: evict)
- ``on-spares``: as ``on``, plus 32 spare nodes (30 min swap) and 200 spare parts (3 d restock)
- ``failures-only``: the failures and repairs of ``on`` with one 1-GPU job (the machinery alone)
- ``on-x10``, ``failures-only-x10``: stress, every failure rate x10 and 80 technicians

Every run is a fresh single-threaded subprocess (``run_bench.run_child``): ``simulate(...)``
is timed (build the model, run, jobs and fault tables, summary), and split, by wrapping from
outside, into the event loop (``DataCenterModel.run``) and the failures table; peak memory is
the process's own ``ru_maxrss``. Writes ``bench/out/RESULTS-reliability.md`` (``--publish``:
``bench/RESULTS-reliability.md``, the published table).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run_bench import (  # noqa: E402
    BUSY_CORES,
    last_json,
    machine,
    md_table,
    median_runs,
    other_cpu_cores,
    run_child,
    text_table,
)

SEED = 1
HORIZON = "30d"
RACKS, NODES_PER_RACK, GPUS_PER_NODE = 3125, 4, 8  # 12,500 nodes, 100,000 GPUs

CHECKPOINT = {"interval": "1h", "write": "1m", "restart": "5m"}

# name, GPU sizes, weights, run time (log-normal mean, sigma), arrival rate
JOB_CLASSES = (
    ("dev", (1, 2, 4, 8), (0.40, 0.15, 0.15, 0.30), "2h", 1.0, "100/h"),
    ("mid", (16, 32, 64), (0.40, 0.35, 0.25), "12h", 1.0, "40/h"),
    ("large", (128, 256, 512), (0.50, 0.30, 0.20), "24h", 0.8, "12/h"),
)

# MTBF of one component, hours (see bench/README.md for the sources)
GPU_MTBF_H, NODE_MTBF_H, NODE_SHAPE, RACK_MTBF_H = 60_000, 30_000, 0.8, 200_000
TECHNICIANS = 8


def failures(scale: float = 1.0) -> dict[str, Any]:
    """The failures block; ``scale`` multiplies every failure rate (divides every MTBF)."""
    return {
        "gpu": {"dist": "exponential", "mtbf": f"{GPU_MTBF_H / scale:g}h"},
        "node": {"dist": "weibull", "shape": NODE_SHAPE, "mtbf": f"{NODE_MTBF_H / scale:g}h"},
        "rack": {"dist": "exponential", "mtbf": f"{RACK_MTBF_H / scale:g}h"},
    }


def repair(scale: float = 1.0) -> dict[str, Any]:
    """The repair block; ``scale`` multiplies the technicians (so that their load stays the same)."""
    return {
        "technicians": round(TECHNICIANS * scale),
        "reboot": {"share": 0.5, "time": "10m"},
        "time": {"dist": "exponential", "mean": "4h"},
    }


SPARES = {"nodes": 32, "swap_time": "30m", "parts": 200, "restock": "3d"}
MAINTENANCE = [{"start": "2d", "duration": "2h", "scope": "rack", "drain": "evict", "units": list(range(20))}]

# case name -> (workload: full | tiny, checkpoint interval or None, failures on, extras)
CASES: dict[str, dict[str, Any]] = {
    "off-plain": {"workload": "full", "checkpoint": None, "failures": False},
    "off": {"workload": "full", "checkpoint": "1h", "failures": False},
    "on": {"workload": "full", "checkpoint": "1h", "failures": True},
    "on-young-daly": {"workload": "full", "checkpoint": "young_daly", "failures": True},
    "on-maint": {"workload": "full", "checkpoint": "1h", "failures": True, "maintenance": True},
    "on-spares": {"workload": "full", "checkpoint": "1h", "failures": True, "spares": True},
    "failures-only": {"workload": "tiny", "checkpoint": None, "failures": True},
    # stress: every failure rate x10 (and 80 technicians)
    "on-x10": {"workload": "full", "checkpoint": "1h", "failures": True, "scale": 10},
    "failures-only-x10": {"workload": "tiny", "checkpoint": None, "failures": True, "scale": 10},
}


def mean_gpus(sizes: tuple[int, ...], weights: tuple[float, ...]) -> float:
    """Mean GPUs per job of a class."""
    return sum(s * w for s, w in zip(sizes, weights, strict=True)) / sum(weights)


def offered() -> tuple[float, float]:
    """(jobs arriving in the horizon, offered load as a share of the installed GPUs)."""
    from dcsim.core import units

    hours = units.duration(HORIZON) / 3600
    jobs = busy = 0.0
    for _, sizes, weights, mean, _, rate in JOB_CLASSES:
        per_h = units.rate(rate) * 3600
        jobs += per_h * hours
        busy += per_h * mean_gpus(sizes, weights) * units.duration(mean) / 3600
    return jobs, busy / (RACKS * NODES_PER_RACK * GPUS_PER_NODE)


def scenario_data(name: str) -> dict[str, Any]:
    """The dcsim scenario of a case, as data."""
    case = CASES[name]
    if case["workload"] == "full":
        jobs = []
        for cname, sizes, weights, mean, sigma, rate in JOB_CLASSES:
            cls: dict[str, Any] = {
                "name": cname,
                "arrival": {"process": "poisson", "rate": rate},
                "gpus": {"values": list(sizes), "weights": list(weights)},
                "duration": {"dist": "lognormal", "mean": mean, "sigma": sigma},
            }
            if case["checkpoint"] is not None:
                cls["checkpoint"] = {**CHECKPOINT, "interval": case["checkpoint"]}
            jobs.append(cls)
    else:  # the failure machinery alone: one 1-GPU job of an hour
        jobs = [{"name": "tiny", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 1, "duration": "1h"}]
    data: dict[str, Any] = {
        "name": f"reliability-{name}",
        "seed": SEED,
        "horizon": HORIZON,
        "datacenter": {
            "sites": [
                {
                    "name": "dc1",
                    "racks": RACKS,
                    "nodes_per_rack": NODES_PER_RACK,
                    "node": {"gpus": GPUS_PER_NODE, "gpu_type": "H100"},
                }
            ]
        },
        "workload": {"jobs": jobs},
        "policies": {"scheduler": {"name": "fifo", "params": {"backfill": True}}, "placement": "first_fit"},
    }
    if case["failures"]:
        scale = case.get("scale", 1)
        data["failures"] = failures(scale)
        data["repair"] = {**repair(scale), **({"spares": SPARES} if case.get("spares") else {})}
    if case.get("maintenance"):
        data["maintenance"] = MAINTENANCE
    return data


# ---------------------------------------------------------------------- worker (run in a subprocess)
def worker(name: str, profile: bool = False) -> dict[str, Any]:
    """Build the scenario and time ``simulate``; return timings and the run's key figures."""
    import resource

    import dcsim.experiment.run as run_mod
    from dcsim.engine import DataCenterModel
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    # Split simulate's time: the event loop (DataCenterModel.run) and the failures table,
    # by wrapping both from outside (dcsim itself is not changed).
    parts: dict[str, float] = {"loop_s": 0.0, "failures_table_s": 0.0}

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                parts[key] += time.perf_counter() - t

        return wrapper

    DataCenterModel.run = timed(DataCenterModel.run, "loop_s")  # type: ignore[method-assign]
    if hasattr(run_mod, "failures_table"):
        run_mod.failures_table = timed(run_mod.failures_table, "failures_table_s")

    t0 = time.perf_counter()
    scenario = scenario_from_data(scenario_data(name), str(ROOT))
    t1, c1 = time.perf_counter(), time.process_time()
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    result = simulate(scenario)
    if prof is not None:
        prof.disable()
    t2, c2 = time.perf_counter(), time.process_time()
    s = result.summary
    jobs, faults, util = s["jobs"], s["faults"], s["utilization"]
    out = {
        "build_s": t1 - t0,
        "wall_s": t2 - t1,
        "cpu_s": c2 - c1,
        **parts,
        "submitted": jobs["submitted"],
        "completed": jobs["completed"],
        "failed": jobs["failed"],
        "running_at_end": jobs["running_at_end"],
        "queued_at_end": jobs["queued_at_end"],
        "mean_wait_s": jobs["mean_wait_s"],
        "failures": faults.get("failures", 0),
        "interruptions": faults.get("job_interruptions", 0),
        "planned_interruptions": faults.get("planned_interruptions", 0),
        "reboots": faults.get("reboots", 0),
        "spare_swaps": faults.get("spare_swaps", 0),
        "unrepaired_at_end": faults.get("unrepaired_at_end", 0),
        "mttr_s": faults.get("mean_time_to_repair_s"),
        "wait_technician_s": faults.get("mean_wait_technician_s"),
        "lost_gpu_hours": faults.get("lost_gpu_hours", 0.0),
        "downtime_gpu_hours": faults.get("downtime_gpu_hours", 0.0),
        "ettr": faults.get("ettr"),
        "gpu_allocated": util["gpu_allocated"],
        "gpu_productive": util["gpu_productive"],
        "gpu_available": util["gpu_available"],
        "offered_load": s["workload"]["offered_load"],
        "max_queue_sampled": int(result.timeseries["queued_jobs"].max()),
        "notes": s["notes"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(35)
        out["profile"] = buf.getvalue()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile_tottime"] = buf.getvalue()
    return out


def run_case(name: str, timeout_s: float, profile: bool = False) -> dict[str, Any]:
    """One run of a case in a fresh process."""
    cmd = [sys.executable, __file__, "--worker", name] + (["--worker-profile"] if profile else [])
    child = run_child(cmd, timeout_s)
    if not child.ok:
        return {"error": child.error}
    return {**last_json(child.stdout), "peak_mb": child.peak_mb}


# ---------------------------------------------------------------------- reporting
COLUMNS = (
    "case", "failure rates", "simulate s", "runs s", "CPU s", "event loop s", "failures table s", "peak MB",
    "jobs", "completed", "failures", "reboots", "job interruptions", "planned interruptions", "lost GPU-h",
    "GPU allocated", "GPU available", "ETTR", "mean wait s", "MTTR h", "other CPU",
)  # fmt: skip


def fmt_row(name: str, r: dict[str, Any], load: float) -> list[str]:
    """One table row (``error`` where every run failed)."""
    case = CASES[name]
    what = "off" if not case["failures"] else "x1" if case.get("scale", 1) == 1 else f"x{case['scale']:g}"
    if "error" in r:
        return [name, what, "error"] + [""] * (len(COLUMNS) - 4) + [f"{load:.1f}"]

    def opt(x: float | None, fmt: str) -> str:
        return "" if x is None else format(x, fmt)

    return [
        name, what, f"{r['wall_s']:.2f}", " / ".join(f"{w:.2f}" for w in r["walls"]), f"{r['cpu_s']:.2f}",
        f"{r['loop_s']:.2f}", f"{r['failures_table_s']:.2f}",
        f"{r['peak_mb']:,.0f}", f"{r['submitted']:,}", f"{r['completed']:,}", f"{r['failures']:,}",
        f"{r['reboots']:,}", f"{r['interruptions']:,}", f"{r['planned_interruptions']:,}",
        f"{r['lost_gpu_hours']:,.0f}", f"{r['gpu_allocated']:.3f}", f"{r['gpu_available']:.4f}",
        opt(r["ettr"], ".4f"), opt(r["mean_wait_s"], ",.1f"),
        opt(None if r["mttr_s"] is None else r["mttr_s"] / 3600, ".2f"), f"{load:.1f}",
    ]  # fmt: skip


def dcsim_tree() -> str:
    """A digest of dcsim/ as it is on disk (commit and uncommitted changes), to notice edits during a run."""
    import hashlib
    import subprocess

    out = subprocess.run(
        ["git", "diff", "HEAD", "--", "dcsim"], cwd=ROOT, capture_output=True, text=False, check=False
    ).stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, check=False).stdout
    return hashlib.sha256(head + out).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print/write the table."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description="dcsim reliability benchmark: 100,000 GPUs, 30 days, failures on.")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated cases (default all: {','.join(CASES)})")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case, median reported (default 3)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run before it is killed")
    ap.add_argument("--results", default=None, help="Markdown output ('' to skip; default "
                    "bench/out/RESULTS-reliability.md, with --publish bench/RESULTS-reliability.md)")  # fmt: skip
    ap.add_argument("--publish", action="store_true",
                    help="write the published table in bench/ (default: bench/out/, which git ignores)")  # fmt: skip
    ap.add_argument("--profile", metavar="CASE", help="run one case once under cProfile and print the hot spots")
    ap.add_argument("--dump", metavar="CASE", help="print a case's scenario as YAML and exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-profile", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_profile)))
        return 0
    if args.dump:
        import yaml

        print(yaml.safe_dump(scenario_data(args.dump), sort_keys=False, width=120, default_flow_style=None))
        return 0
    if args.profile:
        r = run_case(args.profile, args.timeout, profile=True)
        if "error" in r:
            print(r["error"])
            return 1
        print(r["profile"])
        print(r["profile_tottime"])
        return 0

    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    before, tree = machine(), dcsim_tree()
    print(f"machine: {before}", flush=True)
    rows: list[list[str]] = []
    notes: list[str] = []
    for name in names:
        load = other_cpu_cores()
        busy = "  (machine busy: timings inflated)" if load > BUSY_CORES else ""
        print(f"running {name} (x{args.repeat}), other work {load:.1f} cores{busy} ...", flush=True)
        if busy:
            notes.append(f"- {name}: other work kept {load:.1f} of {os.cpu_count()} cores busy; its times are inflated")
        runs = [run_case(name, args.timeout) for _ in range(args.repeat)]
        for i, r in enumerate(runs):
            if "error" in r:
                print(f"  run {i + 1} failed:\n{r['error']}", flush=True)
                notes.append(f"- {name}: run {i + 1} failed: {r['error'].splitlines()[-1] if r['error'] else ''}")
        r = median_runs(runs)
        if "error" not in r:
            print(f"  {r['wall_s']:.2f} s (runs {', '.join(f'{w:.2f}' for w in r['walls'])}), "
                  f"peak {r['peak_mb']:,.0f} MB, {r['failures']:,} failures, {r['interruptions']:,} interruptions, "
                  f"{r['submitted']:,} jobs", flush=True)  # fmt: skip
            notes += [f"- {name}: dcsim says: {note}" for note in r["notes"]]
        rows.append(fmt_row(name, r, load))

    after = machine()
    if after != before or dcsim_tree() != tree:  # someone committed or edited dcsim/ while the cases ran
        notes.append(f"- dcsim changed while the cases ran: at the start `{before}`, at the end `{after}`")
    print()
    print(text_table(rows, COLUMNS))
    if notes:
        print()
        print("\n".join(notes))
    if args.results is None:
        args.results = str((HERE if args.publish else HERE / "out") / "RESULTS-reliability.md")
    if args.results:
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        write_markdown(Path(args.results), rows, argv, notes, args.repeat, before)
        print(f"\nwrote {args.results}")
    return 0


def write_markdown(
    path: Path, rows: list[list[str]], argv: list[str], notes: list[str], repeat: int, machine_line: str
) -> None:
    """Write the results page: how it was made, the setup, the table, the columns."""
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    jobs, load = offered()
    classes = [
        f"  - `{n}`: {', '.join(map(str, sz))} GPUs (weights {', '.join(f'{w:g}' for w in wt)}), "
        f"log-normal run time, mean {mean}, sigma {sig:g}; Poisson arrivals at {rate}"
        for n, sz, wt, mean, sig, rate in JOB_CLASSES
    ]
    text = [
        "# dcsim reliability benchmark results",
        "",
        f"- date: {now}",
        f"- machine: {machine_line}",
        f"- command: `python bench/reliability_bench.py{''.join(' ' + a for a in argv)}` (from the repository root;"
        " `--dump CASE` prints a case's scenario as YAML)",
        f"- each case run {repeat} times, each in a fresh single-threaded process; the run with the median"
        " wall time is shown, with the largest peak memory of the runs",
        "",
        "## Setup",
        "",
        f"- {RACKS:,} racks x {NODES_PER_RACK} nodes x {GPUS_PER_NODE} H100 = "
        f"{RACKS * NODES_PER_RACK:,} nodes, {RACKS * NODES_PER_RACK * GPUS_PER_NODE:,} GPUs, one site;"
        f" horizon {HORIZON}; seed {SEED}; FIFO with greedy backfill, first fit",
        f"- workload (about {jobs:,.0f} jobs in {HORIZON}, offered load {load:.2f}):",
        *classes,
        f"- checkpoints (all classes, except in `off-plain`): every {CHECKPOINT['interval']} of work"
        f" (or `young_daly`), {CHECKPOINT['write']} blocking write, {CHECKPOINT['restart']} restart",
        f"- failures (x1): GPU MTBF {GPU_MTBF_H:,} h exponential; node {NODE_MTBF_H:,} h Weibull shape"
        f" {NODE_SHAPE:g}; rack {RACK_MTBF_H:,} h exponential. x10: every MTBF / 10",
        f"- repair: reboot share 0.5 (10 min); otherwise one of {TECHNICIANS} technicians (x10: 80), hands-on time"
        " exponential, mean 4 h, around the clock",
        "- `on-maint`: `maintenance: [{start: 2d, duration: 2h, scope: rack, drain: evict, units: [0..19]}]`"
        " (rolling: one rack after another)",
        f"- `on-spares`: `spares: {{nodes: {SPARES['nodes']}, swap_time: {SPARES['swap_time']},"
        f" parts: {SPARES['parts']}, restock: {SPARES['restock']}}}`",
        "- `failures-only`: the same data center and failures with one 1-GPU job of 1 h (a workload is required)",
        "",
        md_table(rows, COLUMNS, text_columns=2),
        "",
        "Columns: `simulate s` is the wall time of `dcsim.experiment.run.simulate(scenario)` (build the model,",
        "run, jobs and fault tables, summary; not interpreter start-up, imports or scenario validation), the",
        "median of the runs listed in `runs s`; `CPU s` is its process time. `event loop s` is the part spent",
        "in `DataCenterModel.run` (the SimPy run) and `failures table s` the part spent in",
        "`metrics.tables.failures_table` (both timed by wrapping them from the benchmark). `peak MB` is the",
        "process's maximum resident set size. The remaining columns come from the run's summary:",
        "`jobs` submitted, `completed` by the horizon, component `failures`, of them fixed by `reboots`, job",
        "interruptions by failures and `planned interruptions` (maintenance evictions), `lost GPU-h` (work lost",
        "since the last checkpoint plus restart time), `GPU allocated` and `GPU available` (shares of installed",
        "GPU-hours), `ETTR` (productive / allocated GPU time), `mean wait s` (queue wait of started jobs),",
        "`MTTR h` (failure to back in service, repaired failures only). `other CPU`: cores busy with other",
        "work, sampled for 1 s before the case (each run needs one free core of the two).",
    ]
    if notes:
        text += ["", "## Notes", "", *notes]
    path.write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    sys.exit(main())
