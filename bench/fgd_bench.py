"""The FGD study on openb: each of the six placement policies on the default pod list, beside a bare FGD script.

The study's scenario is written by the openb importer (``dcsim import openb``) from the node
list (1,213 GPU nodes, 6,212 GPUs) and the default pod list (8,152 pods), and run with each
policy (``simulate``, each in a fresh process, the policies in turn, so that all see the same
load on a shared machine): pods arrive until their GPU requests reach 130 % of capacity
(10,830 pods on seed 42). Beside them ``bench/bare_fgd.py``, the same FGD fill in plain
Python with no dcsim code, in the same run; it must make the very same choices. Per-decision
cost is the run's wall time over the pods placed or failed. Target (issue 16): FGD under
30 s, ten times under the authors' simulator (about 10 minutes an experiment on 2 vCPUs).

The paper's allocation rates are the authors' ``experiments/analysis/expected_results/
analysis_allo_discrete.csv`` (openb_pod_list_default, mean of their seeds 42-51).

    python bench/fgd_bench.py [--traces DIR] [--repeat 1] [--publish]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run_bench import CHILD_ENV, machine  # noqa: E402

POLICIES = ("random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit", "fgd")
NODES, PODS = "openb_node_list_gpu_node.csv", "openb_pod_list_default.csv"
TARGET_S = 30.0
#: The paper's GPU allocation rate (%) at 100 % and 130 % arrived (Figure 9a; the authors' expected results).
PAPER = {
    "random": (86.30, 87.47), "dot_product": (90.62, 90.85), "gpu_clustering": (91.65, 91.88),
    "gpu_packing": (91.78, 92.00), "best_fit": (92.86, 93.08), "fgd": (95.23, 95.39),
}  # fmt: skip


def worker(study: str, policy: str) -> dict:
    """One run of the study with ``policy`` (in this process): wall and CPU time, the fill's figures."""
    t0, c0 = time.perf_counter(), time.process_time()
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import load_scenario

    result = simulate(load_scenario(study, [f"policies.placement={policy}"]))
    fill = result.summary["fill"]
    return {
        "policy": policy, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
        "run_s": result.wall_time_s, "pods": fill["pods_arrived"], "at_100": fill["allocation_rate_at_100"],
        "at_end": fill["allocation_rate"], "fragmentation": result.summary["utilization"]["gpu_fragmentation"],
        "nodes": [int(n) for n in result.data["fill"]["node"]],
    }  # fmt: skip


def bare(traces: Path) -> dict:
    """The bare script, in this process."""
    import bare_fgd

    chosen: list[int] = []
    c0 = time.process_time()
    out = bare_fgd.run(str(traces / NODES), str(traces / PODS), 42, 1.3, chosen)
    return {**out, "cpu_s": time.process_time() - c0, "nodes": chosen}


def child(*args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    out = subprocess.run(cmd, env=CHILD_ENV, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(runs: dict[str, list[dict]], bare_runs: list[dict]) -> list[str]:
    fgd_nodes = runs["fgd"][0]["nodes"]
    lines = [
        "| policy | wall of simulate (s) | CPU of the process (s) | per decision (ms) | allocation at 100 % | paper | "
        "at 130 % | paper | "
        "fragmentation at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in POLICIES:
        rs = runs[p]
        wall = statistics.median(r["run_s"] for r in rs)
        cpu = statistics.median(r["cpu_s"] for r in rs)
        r = rs[0]
        lines.append(
            f"| {p} | {wall:.1f} | {cpu:.1f} | {1000 * wall / r['pods']:.2f} | {100 * r['at_100']:.2f} % | "
            f"{PAPER[p][0]:.2f} % | {100 * r['at_end']:.2f} % | {PAPER[p][1]:.2f} % | "
            f"{100 * r['fragmentation']:.2f} % |"
        )
    b = bare_runs[0]
    wall = statistics.median(x["wall_s"] for x in bare_runs)
    lines.append(
        f"| bare FGD script | {wall:.1f} | {statistics.median(x['cpu_s'] for x in bare_runs):.1f} | "
        f"{1000 * wall / b['pods_arrived']:.2f} | {100 * b['allocation_rate_at_100']:.2f} % | | "
        f"{100 * b['allocation_rate']:.2f} % | | |"
    )
    same = "the same" if b["nodes"] == fgd_nodes else "NOT the same"
    lines.append("")
    lines.append(f"The bare script made {same} {len(b['nodes']):,} choices as dcsim's fgd.")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Import the study, run the policies and the bare script in turn; print (and with --publish write) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023",
                    help="folder of the openb CSV files (default: the traces beside the repo)")  # fmt: skip
    ap.add_argument("--repeat", type=int, default=1, help="runs per policy (medians)")
    ap.add_argument("--publish", action="store_true", help="write bench/RESULTS-fgd.md")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        out = bare(Path(args.worker[1])) if args.worker[0] == "bare" else worker(args.worker[0], args.worker[1])
        print(json.dumps(out))
        return 0
    if not (args.traces / PODS).is_file():
        print(f"no {PODS} in {args.traces}: download cluster-trace-gpu-v2023 from alibaba/clusterdata and give "
              "--traces", file=sys.stderr)  # fmt: skip
        return 2
    sys.path.insert(0, str(ROOT))
    from dcsim.workload.importers.openb import import_openb

    with tempfile.TemporaryDirectory() as tmp:
        import_openb([args.traces / NODES, args.traces / PODS], Path(tmp))
        study = str(Path(tmp) / "openb.yaml")
        runs: dict[str, list[dict]] = {p: [] for p in POLICIES}
        bare_runs: list[dict] = []
        for _ in range(args.repeat):
            for p in POLICIES:
                r = child(study, p)
                runs[p].append(r)
                print(f"{p:<15} {r['run_s']:6.1f} s  allocation {100 * r['at_100']:.2f} % at 100 %, "
                      f"{100 * r['at_end']:.2f} % at 130 %", flush=True)  # fmt: skip
            b = child("bare", str(args.traces))
            bare_runs.append(b)
            print(f"{'bare FGD':<15} {b['wall_s']:6.1f} s  allocation {100 * b['allocation_rate']:.2f} %", flush=True)
    lines = table(runs, bare_runs)
    print("\n".join(lines))
    if args.publish:
        fgd = statistics.median(r["run_s"] for r in runs["fgd"])
        fgd_cpu = statistics.median(r["cpu_s"] for r in runs["fgd"])
        verdict = "met" if fgd < TARGET_S else f"met in CPU time ({fgd_cpu:.1f} s)" if fgd_cpu < TARGET_S else "missed"
        head = [
            "# The FGD study on openb: six placement policies, and a bare FGD script",
            "",
            f"`python bench/fgd_bench.py --repeat {args.repeat} --publish`, {datetime.date.today()}, {machine()}.",
            "The machine is shared with other work: times are indicative, not a benchmark.",
            "",
            "The openb default study (1,213 GPU nodes, 6,212 GPUs; 8,152 pods, sampled as the authors' runs until",
            "130 % of GPU capacity is requested: 10,830 pods on seed 42), written by `dcsim import openb` and run",
            "with each policy in a fresh process (wall time of `simulate`, which reads the pod list too).",
            "Per decision: wall time over pods. The paper's allocation rates: the authors' expected results",
            "(mean of their seeds 42-51); ours are one seed (42).",
            "",
            f"Target: FGD under {TARGET_S:.0f} s: {verdict}; wall {fgd:.1f} s (wall: `simulate`'s; CPU: the whole",
            "process's, with Python's start-up and the imports).",
            "",
        ]
        (HERE / "RESULTS-fgd.md").write_text("\n".join(head + lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
