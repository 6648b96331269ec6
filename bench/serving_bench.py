"""Inference services' speed: dcsim's serving engine beside a bare SimPy script of the same model.

Case ``p2c`` (the issue's target, dcsim within 2x of the bare script): 1,000,000 requests,
one Poisson stream at 80/s, over 100 replicas of one GPU node each, each serving one
request at a time (``concurrency: 1``) first come first served, exponential service of mean
1 s (offered load 0.8 per replica), routed by ``power_of_two`` on outstanding requests. An
``hpa`` autoscaler (metric concurrency, target 1 per replica, min 90, max 100, initial 100)
evaluates every 15 s; the fleet's concurrency (about 1.95 per replica) asks for more than 100,
so it holds the fleet at 100, the bare script's fixed count (its 5 min scale-down window
also covers the drain after the last arrival). The horizon (12,700 s) leaves
the 1,000,000th arrival (at about 12,500 s, standard deviation 12.5 s) time to be served.
``bench/bare_serving.py`` runs the same model with one process per request (``bare``) and
with callbacks (``bare-cb``). Each side runs in a fresh process, the sides alternately;
medians of ``--repeat``. The mean sojourns must agree statistically (their difference is
given in standard errors, from batch means) and sit near the supermarket model's mean-field
limit, ``sum_{i>=1} rho^(2^i - 2) / mu`` (1.95 s at rho = 0.8).

Case ``tokens``: the service of the spec's chat scenario alone (diurnal traffic averaging
30/s for a day, log-normal prompts and outputs, prefill at 12,000 tokens/s, decode at 25 ms
a token with batches of up to 64, ``power_of_two``, an ``hpa`` on concurrency with target
48, cold starts loading 140 GB at 100 GB/s) on 32 nodes of 8 H100: wall time and us per
request; no bare equivalent. Unlike the spec's scenario it has no warm-up, so that the
summary's count is every request simulated.

``--profile`` adds one more dcsim run of each case under cProfile: the functions with the
most time of their own, as shares of the run.

    python bench/serving_bench.py [--cases p2c,tokens] [--repeat 3] [--profile] [--publish]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bare_serving import batch_se, supermarket  # noqa: E402  (bench/ is not a package)

REQUESTS, REPLICAS, LOAD, MEAN_S = 1_000_000, 100, 0.8, 1.0
RATE = LOAD * REPLICAS / MEAN_S
CASES = ("p2c", "tokens")
SIDES = ("dcsim", "bare", "bare-cb")


def p2c_scenario(requests: int = REQUESTS) -> dict:
    """Case ``p2c`` as data: the bare script's model with an active autoscaler that keeps 100 replicas."""
    horizon = requests / RATE + 100.0 + 8 * math.sqrt(requests) / RATE
    service = {
        "name": "mmc",
        "gpus_per_replica": 8,
        "replicas": {"min": 90, "max": REPLICAS, "initial": REPLICAS},
        "requests": {"arrival": {"process": "poisson", "rate": RATE}, "count": requests},
        "service_model": {"time": {"dist": "exponential", "mean": MEAN_S}, "concurrency": 1},
        "load_balancer": {"policy": "power_of_two"},
        "autoscaler": {"policy": "hpa", "metric": "concurrency", "target": 1.0, "sync_period": "15s"},
    }
    return {
        "name": "serving-bench",
        "seed": 1,
        "horizon": round(horizon),
        "datacenter": {"sites": [{"name": "dc1", "racks": 4, "nodes_per_rack": 25, "node": {"gpus": 8}}]},
        "services": [service],
    }


def tokens_scenario() -> dict:
    """Case ``tokens`` as data: the chat service of the spec's serving scenario, alone on its cluster."""
    service = {
        "name": "chat",
        "model": {"name": "llama-70b", "size": "140GB"},
        "gpus_per_replica": 4,
        "replicas": {"min": 2, "max": 40, "initial": 4},
        "requests": {
            "arrival": {"process": "diurnal", "rate": "30/s", "amplitude": 0.6, "peak": "14h"},
            "input_tokens": {"dist": "lognormal", "median": 600, "sigma": 0.8},
            "output_tokens": {"dist": "lognormal", "median": 250, "sigma": 0.7},
        },
        "service_model": {
            "prefill": "12000/s",
            "decode": {"per_token": "25ms", "max_batch": 64, "batch_penalty": 0.01},
        },
        "load_balancer": {"policy": "power_of_two"},
        "autoscaler": {
            "policy": "hpa",
            "metric": "concurrency",
            "target": 48,
            "sync_period": "15s",
            "scale_down_window": "5m",
        },
        "slo": {"latency_p99": "2s", "ttft_p99": "500ms"},
    }
    return {
        "name": "serving-bench-tokens",
        "seed": 5,
        "horizon": "1d",
        "datacenter": {
            "sites": [
                {
                    "name": "dc1",
                    "racks": 8,
                    "nodes_per_rack": 4,
                    "node": {"gpus": 8, "gpu_type": "H100"},
                    "storage": {"bandwidth": "100GB/s"},
                }
            ]
        },
        "services": [service],
    }


def dcsim_worker(case: str, requests: int = REQUESTS, prof: Any = None) -> dict:
    """Time ``simulate`` of one case in this process (``prof``: a ``cProfile.Profile`` to run it under)."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    data = p2c_scenario(requests) if case == "p2c" else tokens_scenario()
    if case == "p2c":
        data["metrics"] = {"requests_table_rows": requests}  # every request, for the standard error
    sc = scenario_from_data(data, str(ROOT))
    if prof is not None:
        prof.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(sc)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None:
        prof.disable()
    svc = result.summary["services"]
    out = {"wall_s": wall, "cpu_s": cpu, "requests": svc["requests"], "completed": svc["completed"],
           "mean_sojourn_s": svc["mean_latency_s"], "mean_replicas": svc["mean_replicas"],
           "p99_latency_s": svc["p99_latency_s"]}  # fmt: skip
    if case == "p2c":
        req = result.data["requests"]
        order = req["arrival_s"].argsort(kind="stable")
        done = req["status"].is_("completed")[order]
        sojourn = req["latency_s"][order][done]
        out["sojourn_se_s"] = batch_se(sojourn)
        out["table_rows"] = len(sojourn)
    else:
        out["p99_ttft_s"] = svc["p99_ttft_s"]
    return out


def bare_worker(callbacks: bool, requests: int = REQUESTS) -> dict:
    """Time the bare script on case ``p2c`` in this process."""
    import bare_serving

    argv = ["--requests", str(requests), "--replicas", str(REPLICAS), "--load", str(LOAD), "--mean", str(MEAN_S)]
    return bare_serving.main([*argv, "--request", "callback" if callbacks else "process"])


def side(case: str, name: str, requests: int, profile: bool = False) -> dict:
    """One side of a case in a fresh process (single-threaded BLAS, as run_bench.py runs them)."""
    cmd = [sys.executable, __file__, "--worker", case, "--side", name, "--requests", str(requests)]
    if profile:
        cmd.append("--profile-worker")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    if profile:
        return {"profile": out.stdout}
    return json.loads(out.stdout.strip().splitlines()[-1])


def profiled(case: str, requests: int, top: int = 14) -> str:
    """One dcsim run of ``case`` under cProfile: the functions with the most time of their own, as text."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    out = dcsim_worker(case, requests, prof)
    stats = pstats.Stats(prof)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    buf = io.StringIO()
    buf.write(f"{case}: {out['wall_s']:.2f} s under the profiler; own time, share of it, calls\n")
    for (path, line, name), (_, calls, own, _cum, _) in rows:
        where = f"{Path(path).name}:{line}({name})" if line else name
        buf.write(f"{own:7.2f} s {100 * own / total:5.1f} % {calls:>10,}  {where}\n")
    return buf.getvalue()


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run_p2c(requests: int, repeat: int) -> tuple[list[str], list[str]]:
    """Case ``p2c``: each side ``repeat`` times, alternately; the table row and the agreement notes."""
    times: dict[str, list[float]] = {s: [] for s in SIDES}
    cpus: dict[str, list[float]] = {s: [] for s in SIDES}
    last: dict[str, dict] = {}
    for i in range(repeat):
        for name in SIDES if i % 2 == 0 else SIDES[::-1]:
            last[name] = side("p2c", name, requests)
            times[name].append(last[name]["wall_s"])
            cpus[name].append(last[name]["cpu_s"])
            print(f"  p2c {name}: {last[name]['wall_s']:.2f} s", file=sys.stderr, flush=True)
    med = {s: _median(v) for s, v in times.items()}
    cpu = {s: _median(v) for s, v in cpus.items()}
    d, b = last["dcsim"], last["bare"]
    diff = d["mean_sojourn_s"] - b["mean_sojourn_s"]
    se = math.hypot(d["sojourn_se_s"], b["sojourn_se_s"])
    field = supermarket(LOAD) * MEAN_S
    row = (
        f"| p2c | {requests:,} | {REPLICAS} | {med['dcsim']:.2f} | {med['bare']:.2f} | {med['bare-cb']:.2f} "
        f"| {med['dcsim'] / med['bare']:.2f} | {med['dcsim'] / med['bare-cb']:.2f} "
        f"| {cpu['dcsim'] / cpu['bare']:.2f} | {cpu['dcsim'] / cpu['bare-cb']:.2f} "
        f"| {min(times['dcsim']) / max(times['bare-cb']):.2f}-{max(times['dcsim']) / min(times['bare-cb']):.2f} "
        f"| {requests / med['dcsim']:,.0f} | {requests / med['bare']:,.0f} | {requests / med['bare-cb']:,.0f} "
        f"| {d['mean_sojourn_s']:.4f} ± {d['sojourn_se_s']:.4f} | {b['mean_sojourn_s']:.4f} ± {b['sojourn_se_s']:.4f} "
        f"| {diff / se:+.2f} | {field:.4f} | {d['mean_replicas']:.2f} |"
    )
    agree = abs(diff) <= 3 * se
    notes = [
        f"- The mean sojourns {'agree' if agree else 'DO NOT agree'}: dcsim - bare = {diff:+.4f} s, "
        f"{diff / se:+.2f} standard errors (batch means, 50 batches; agreement: within 3). `bare` and `bare-cb` "
        f"draw the same numbers and give the same sojourns ({b['mean_sojourn_s']:.6f} and "
        f"{last['bare-cb']['mean_sojourn_s']:.6f} s).",
        f"- Against the supermarket model's mean-field limit ({field:.4f} s for d = 2 at rho = {LOAD}, "
        f"sum_(i>=1) rho^(2^i - 2) / mu): dcsim {d['mean_sojourn_s'] / field - 1:+.1%}, bare "
        f"{b['mean_sojourn_s'] / field - 1:+.1%} (100 replicas is a finite system; the limit is for n -> infinity).",
        f"- dcsim served {d['completed']:,} of {d['requests']:,} requests by the horizon; mean replicas "
        f"{d['mean_replicas']:.2f}.",
        f"- Target (issue 13, point 6): dcsim within 2x of the bare SimPy script: {med['dcsim'] / med['bare']:.2f}x, "
        f"{'MET' if med['dcsim'] <= 2 * med['bare'] else 'NOT MET'}; against the callback-style script: "
        f"{med['dcsim'] / med['bare-cb']:.2f}x, {'MET' if med['dcsim'] <= 2 * med['bare-cb'] else 'NOT MET'}.",
    ]
    return [row], notes


def run_tokens(repeat: int) -> list[str]:
    """Case ``tokens``: dcsim ``repeat`` times; the table row."""
    runs = [side("tokens", "dcsim", 0) for _ in range(repeat)]
    for r in runs:
        print(f"  tokens dcsim: {r['wall_s']:.2f} s", file=sys.stderr, flush=True)
    wall = _median([r["wall_s"] for r in runs])
    r = runs[-1]
    return [
        f"| tokens | {r['requests']:,} | {wall:.2f} | {1e6 * wall / r['requests']:.1f} | {r['requests'] / wall:,.0f} "
        f"| {r['mean_sojourn_s']:.3f} | {r['p99_latency_s']:.3f} | {r['p99_ttft_s']:.3f} | {r['mean_replicas']:.2f} |"
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side (median; default 3)")
    ap.add_argument("--requests", type=int, default=REQUESTS, help="requests of case p2c (default 1,000,000)")
    ap.add_argument("--profile", action="store_true", help="also one dcsim run of each case under cProfile")
    ap.add_argument("--publish", action="store_true",
                    help="write bench/RESULTS-serving.md (default: bench/out/, which git ignores)")  # fmt: skip
    ap.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--profile-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        if args.profile_worker:
            print(profiled(args.worker, args.requests))
        elif args.side == "dcsim":
            print(json.dumps(dcsim_worker(args.worker, args.requests)))
        else:
            bare_worker(args.side == "bare-cb", args.requests)
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"--cases: unknown case {unknown[0]!r}; give some of {', '.join(CASES)}")
    if args.repeat < 1 or args.requests < 1:
        ap.error("--repeat and --requests: give at least 1")
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    lines: list[str] = []
    profiles: list[str] = []
    if "p2c" in cases:
        rows, notes = run_p2c(args.requests, args.repeat)
        lines += [
            "| case | requests | replicas | dcsim s | bare s | bare-cb s | dcsim / bare | dcsim / bare-cb "
            "| dcsim / bare CPU | dcsim / bare-cb CPU | spread (cb) | dcsim req/s | bare req/s | bare-cb req/s "
            "| mean sojourn s dcsim (± se) | mean sojourn s bare (± se) | difference / se | mean-field limit s "
            "| dcsim mean replicas |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows, "", *notes, "",
        ]  # fmt: skip
    if "tokens" in cases:
        lines += [
            "| case | requests | dcsim s | us per request | requests/s | mean latency s | p99 latency s "
            "| p99 ttft s | mean replicas |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *run_tokens(args.repeat), "",
        ]  # fmt: skip
    if args.profile:
        profiles = [side(c, "dcsim", args.requests, profile=True)["profile"] for c in cases]
    head = [
        "# Inference services: dcsim's serving engine beside a bare SimPy script",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} "
        f"on {platform.machine()}; benchmark time {time.perf_counter() - t_start:.0f} s; load average (1 min) "
        f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores (other work "
        "on the machine slows every side; the ratios, from alternating runs, hold better than the times)",
        f"- dcsim commit {commit.stdout.strip() or 'unknown'}; SimPy {version('simpy')}, numpy {version('numpy')}",
        f"- command: `python bench/serving_bench.py --cases {','.join(cases)} --repeat {args.repeat}"
        f"{'' if args.requests == REQUESTS else f' --requests {args.requests}'}{' --profile' if args.profile else ''}`",
        "- p2c: one Poisson stream of requests at 80/s over 100 replicas, each a single FIFO server",
        "  (concurrency 1) with exponential service of mean 1 s (offered load 0.8 per replica), power of two",
        "  choices on outstanding requests (queued plus in service); in dcsim an `hpa` (concurrency, target 1,",
        "  min 90, max 100) evaluates every 15 s and holds the fleet at 100. `bare`: bench/bare_serving.py with",
        "  a SimPy process and a `simpy.Resource` per request; `bare-cb`: the same model with two timeouts and",
        "  callbacks per request. dcsim s times `simulate` (build, run, tables, summary), bare s the draws, the",
        "  run and the mean. Each side in a fresh process, the sides alternately; medians. `spread (cb)`: the",
        "  lowest and highest dcsim / bare-cb ratio any two runs give; `CPU`: ratios of the median process CPU",
        "  times, steadier than wall time when other work shares the machine.",
        "- tokens: the chat service of the spec's serving scenario alone on 32 nodes of 8 H100 for a day",
        "  (diurnal arrivals averaging 30/s, log-normal prompts of median 600 and outputs of median 250 tokens,",
        "  prefill 12,000 tokens/s, decode 25 ms a token in batches of up to 64, `power_of_two`, `hpa` on",
        "  concurrency with target 48, cold starts loading 140 GB at 100 GB/s; no warm-up); medians of the runs.",
        "",
    ]
    if profiles:
        lines += ["Where dcsim's time goes (one more run under cProfile; the profiler slows it):", "", "```",
                  *[p.rstrip() for p in profiles], "```", ""]  # fmt: skip
    text = "\n".join(head + lines).rstrip() + "\n"
    print(text)
    out = (HERE if args.publish else HERE / "out") / "RESULTS-serving.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
