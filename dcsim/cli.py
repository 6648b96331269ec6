"""The ``dcsim`` command: run, validate, compare, schema, policies.

Every error a user can cause prints one message naming the field, line or argument
and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import dcsim
from dcsim.core.bounds import MAX_REPLICATIONS, MAX_SEED, MAX_WORKERS
from dcsim.core.errors import DcsimError
from dcsim.core.text import quote, quote_path

EPILOG = """\
examples:
  dcsim run scenarios/quickstart.yaml
  dcsim run scenarios/quickstart.yaml --seed 2 --set horizon=30d --plots
  dcsim run scenarios/quickstart.yaml --set workload.jobs.0.duration.median=3h
  dcsim validate my_cluster.yaml
  dcsim compare scenarios/quickstart.yaml --policy scheduler=fifo,sjf --seeds 5
  dcsim compare scenarios/repair_crew.yaml --vary repair.technicians=1,2,4 --seeds 5
  dcsim compare scenarios/lp_scheduler.yaml --policy scheduler=fifo,lp --seeds 3
  dcsim allocate scenarios/allocate_two_racks.yaml --lambda-sweep 0,1,10,100
  dcsim sweep scenarios/quickstart.yaml --grid datacenter.sites.0.racks=6,8,10 --replications 5
  dcsim plot results/quickstart/sweep --metric jobs.p95_wait_s --target 'jobs.p95_wait_s<=1h'
  dcsim plan scenarios/capacity_planning.yaml --vary datacenter.sites.0.racks --min 12 --max 28 \\
      --target 'jobs.p95_wait_s<=1h'
  dcsim schema --markdown > docs/reference/scenario.md

Quantities take units: durations 90s 15m 2h 7d, rates 10/h 1/d, power 700W 1.2kW,
bandwidth 400Gbps, sizes 500GB.

Exit status:
  0    success
  1    an internal error (please report it)
  2    bad input (scenario, argument, trace file): one message naming the field or line
  3    `dcsim allocate`: the problem is infeasible (the message says what binds)
  4    `dcsim sweep`: some runs failed (their errors are in runs.csv; the rest completed)
  5    `dcsim plan`: no value in [--min, --max] meets the target
  130  interrupted (Ctrl-C): a run writes nothing; a sweep or plan keeps the runs done
"""

#: The exit statuses each command can return (its --help lists them); see EPILOG for their meaning.
EXIT_STATUS = {
    "run": "0 success, 2 bad input, 130 interrupted (nothing written), 1 internal error",
    "validate": "0 valid, 2 not valid (every problem printed), 130 interrupted, 1 internal error",
    "compare": "0 success, 2 bad input, 130 interrupted (nothing written), 1 internal error",
    "sweep": "0 every run succeeded, 2 bad input, 4 some runs failed (see runs.csv), 130 interrupted (the runs "
    "done are kept: the same command resumes), 1 internal error",
    "plan": "0 a value meets the target, 2 bad input, 5 no value in [--min, --max] meets it, 130 interrupted "
    "(the runs done are kept: the same command resumes), 1 internal error",
    "plot": "0 success, 2 bad input (no sweep there, unknown metric or axis), 130 interrupted, 1 internal error",
    "allocate": "0 solved (optimal, or a time-out answered by the heuristic), 2 bad input, 3 infeasible, "
    "130 interrupted, 1 internal error",
    "schema": "0 success, 1 internal error",
    "policies": "0 success, 1 internal error",
}


def _whole(low: int, high: int, what: str) -> Any:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{quote(text)} is not a whole number; give {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{quote(value)} is out of range; give {what} from {low} to {high:,}")
        return value

    return parse


def _number(text: str) -> float:
    """An argparse type: a finite number (not inf or nan)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a finite number; give one such as 10")
    return value


_SEED = _whole(0, MAX_SEED, "a seed")
_REPLICATIONS = _whole(1, MAX_REPLICATIONS, "a number of seeds")


def _add_scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="scenario YAML file")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a scenario field before validation; repeatable. PATH steps into "
        "mappings by key and lists by index: --set workload.jobs.0.arrival.rate=8/h",
    )  # fmt: skip
    p.add_argument(
        "--allow-overload", action="store_true",
        help="accept a scenario whose job classes without a count offer more than 10 times the installed GPUs (the "
        "queue grows without bound; usually a rate written without its unit: `rate: 6` is 6 per second)",
    )  # fmt: skip
    p.add_argument(
        "--no-plugins", action="store_true",
        help="refuse policies given as 'module:Class' without importing them: a plug-in is code that runs "
        "when the scenario is loaded, so use this for scenario files you did not write (also: DCSIM_NO_PLUGINS=1)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dcsim`` command."""
    parser = argparse.ArgumentParser(
        prog="dcsim",
        description="dcsim: discrete-event simulator of AI (GPU) data centers. Describe sites, racks, "
        "GPU nodes, a training workload, failures and repairs in YAML; get cost, utilization, queueing and "
        "fault-impact results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dcsim {dcsim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="simulate a scenario and write results/",
        description="Simulate a scenario, print a summary table and write summary.json, manifest.json, "
        "jobs.parquet and timeseries.parquet (and failures.parquet with failures, epochs.parquet with the lp "
        "scheduler) to "
        "results/<scenario>/<run id>/ (or --out).",
    )  # fmt: skip
    _add_scenario_args(run)
    run.add_argument(
        "--out", metavar="DIR",
        help="results directory (default: results/<scenario>/seed<N>[-<hash>]); an earlier run there is "
        "replaced, a folder of other files is refused",
    )  # fmt: skip
    run.add_argument("--seed", type=_SEED, metavar="N", help="seed of every random stream (default: the scenario's)")
    run.add_argument(
        "--csv", action="store_true", help="also write jobs.csv and timeseries.csv (and events.csv, failures.csv)"
    )
    run.add_argument(
        "--plots", action="store_true",
        help="also write utilization.png and wait_cdf.png; with failures, failures.png and lost_by_cause.png",
    )  # fmt: skip
    run.add_argument(
        "--events", action="store_true",
        help="also write events.parquet: every job and component record (submitted, started, finished, "
        "interrupted; component failed, repaired) in order",
    )  # fmt: skip
    run.add_argument("--json", action="store_true", help="print summary.json instead of the table")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    val = sub.add_parser(
        "validate", help="check a scenario and print every problem",
        description="Check a scenario file against the schema and the data center; print every problem "
        "with its path. If valid, print the offered load (GPU demand / installed GPUs, before queueing) and, with "
        "failures, the repair crew's load (hands-on repair work / technician hours), the GPU speeds of a mixed "
        "fleet, the defaults of GPU types dcsim has no figures for, and what is recorded but not modelled. "
        "Exit 0 if valid, 2 if not.",
    )  # fmt: skip
    _add_scenario_args(val)

    cmp_ = sub.add_parser(
        "compare", help="run policy variants side by side on the same seeds",
        description="Run every combination of the given variants on the same seeds (common random "
        "numbers) and print one table of headline metrics (or --metric), mean ± standard error over seeds. "
        "Also writes every run's metrics to results/<scenario>/compare.csv (or --out).",
    )  # fmt: skip
    _add_scenario_args(cmp_)
    cmp_.add_argument(
        "--policy", action="append", default=[], metavar="KIND=A,B",
        help="policy variants, e.g. scheduler=fifo,sjf, placement=best_fit,worst_fit or "
        "repair=fifo,most_gpus_first; repeatable",
    )  # fmt: skip
    cmp_.add_argument(
        "--vary", action="append", default=[], metavar="PATH=A,B",
        help="any scenario field's variants, e.g. workload.jobs.0.arrival.rate=4/h,8/h; repeatable",
    )  # fmt: skip
    seeds = cmp_.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=_REPLICATIONS, default=3, metavar="N",
                       help="replications: seeds S..S+N-1 from the scenario's seed S (default 3)")  # fmt: skip
    seeds.add_argument("--seed-list", metavar="A,B,...", help="explicit seeds, e.g. 1,2,3")
    cmp_.add_argument("--out", metavar="FILE", help="CSV of every run (default: results/<scenario>/compare.csv)")
    _add_metric_arg(cmp_, "the printed tables show")
    cmp_.add_argument(
        "--baseline", metavar="VARIANT",
        help="the variant the others are compared with, paired by seed (default: the first); its label as "
        "printed, e.g. 'fifo' or 'fifo best_fit'",
    )  # fmt: skip

    swp = sub.add_parser(
        "sweep", help="a grid of settings x replications, in parallel, resumable, with statistics",
        description="Run the Cartesian product of the --grid (and --policy) values, each on the same N seeds "
        "(common random numbers), on a local process pool or Dask. Each run is stored as it finishes "
        "(runs/<key>.json, keyed by the resolved scenario's hash and the seed), so running the same sweep again "
        "skips what is done. Writes runs.parquet/.csv (one row per run: grid values, seed, error, every metric) "
        "and points.parquet/.csv (per grid point and metric: n, mean, std, 95% confidence interval) to "
        "results/<scenario>/sweep (or --out), and prints a table of the points: one row per point, the headline "
        "metrics (or --metric) as mean ± 95% half-width. Exit 0 if every run succeeded, 4 if some failed (their errors "
        "are in runs.csv). Without --grid and --policy it runs the scenario's own `sweep:` block (without one, the "
        "scenario itself on N seeds). Values are separated by commas, so a value cannot hold one.",
    )  # fmt: skip
    _add_scenario_args(swp)
    swp.add_argument(
        "--grid", action="append", default=[], metavar="PATH=A,B",
        help="a scenario field's values, e.g. datacenter.sites.0.racks=8,12,16; repeatable (the product is run)",
    )  # fmt: skip
    swp.add_argument(
        "--policy", action="append", default=[], metavar="KIND=A,B",
        help="policy values as a grid axis, e.g. scheduler=fifo,sjf; repeatable",
    )  # fmt: skip
    swp.add_argument("--replications", type=_REPLICATIONS, metavar="N",
                     help="seeds S..S+N-1 from the scenario's seed S at every grid point (default: the file's "
                     "sweep block, else 3)")  # fmt: skip
    swp.add_argument("--out", metavar="DIR", help="sweep directory (default: results/<scenario>/sweep)")
    _add_metric_arg(swp, "the printed table of points shows")
    _add_executor_args(swp)

    pln = sub.add_parser(
        "plan", help="the smallest value of a setting that meets a target, by bisection over simulations",
        description="Find the smallest integer value of --vary in [--min, --max] (racks, nodes, technicians, ...) "
        "whose upper 95% confidence bound of the metric's mean meets --target (lower bound for >=), by "
        "bisection: --replications seeds per value, run like a sweep (parallel, resumable). Bisection assumes "
        "the metric improves monotonically with the setting. Prints each value tried once, with its interval; "
        "writes plan.csv and plan.png to a folder of their own per question (setting, range, target, "
        "replications, --set) under results/<scenario>/plan/, so plans never overwrite each other, and keeps "
        "the runs in results/<scenario>/plan/runs for every plan of the scenario to reuse (or all in --out). "
        "Exit 0 when found, 5 when even --max misses it.",
    )  # fmt: skip
    _add_scenario_args(pln)
    pln.add_argument("--vary", required=True, metavar="PATH", help="the setting to size, e.g. datacenter.sites.0.racks")
    pln.add_argument("--min", dest="low", type=int, required=True, metavar="A", help="smallest value to consider")
    pln.add_argument("--max", dest="high", type=int, required=True, metavar="B", help="largest value to consider")
    pln.add_argument("--target", required=True, metavar="'METRIC<=VALUE'",
                     help="e.g. 'jobs.p95_wait_s<=1h', 'utilization.gpu_available>=99%%' or "
                     "'cost.total_usd<=$200k' (also >=, < and >; metric names: docs/reference/metrics.md; a "
                     "value without a unit is in seconds, a share or USD)")  # fmt: skip
    pln.add_argument("--replications", type=_REPLICATIONS, default=5, metavar="N", help="seeds per value (default 5)")
    pln.add_argument("--out", metavar="DIR",
                     help="plan directory: plan.csv, plan.png and runs/ (default: the runs in "
                     "results/<scenario>/plan/runs, shared by that scenario's plans, and plan.csv and plan.png in "
                     "results/<scenario>/plan/<setting>-<metric>-<hash of the question>/)")  # fmt: skip
    _add_executor_args(pln)

    plo = sub.add_parser(
        "plot", help="draw a sweep's metrics against a grid axis, with confidence bands",
        description="From a sweep's points table, draw each metric's mean and 95% confidence band against a grid "
        "axis, one line per value of the other axes, as DIR/plots/<metric>-vs-<axis>.png. Axes are in words "
        "with units; bands stop at the metric's range (no wait below 0, no share above 100%); metrics that are "
        "zero at every point are not drawn (and are named).",
    )  # fmt: skip
    plo.add_argument("dir", help="the directory `dcsim sweep` wrote")
    plo.add_argument("--metric", action="append", default=[], metavar="NAME",
                     help="a metric by its contract name, e.g. jobs.p95_wait_s; repeatable (default: every metric "
                     "of the run summary table that the sweep has)")  # fmt: skip
    plo.add_argument("--x", metavar="PATH", help="the grid axis across (default: the first)")
    plo.add_argument("--target", metavar="'METRIC<=VALUE'",
                     help="draw a target line on that metric's plot (and draw that metric), written as for "
                     "`dcsim plan`, e.g. 'jobs.p95_wait_s<=1h'")  # fmt: skip

    alo = sub.add_parser(
        "allocate", help="solve a static allocation (cost + lambda x fault exposure) with an LP/MILP",
        description="Allocate services to pools by a MILP (PuLP; HiGHS by default, CBC with solver: cbc): "
        "minimize capacity and service cost + lambda x fault exposure + a penalty per unmet instance, under "
        "pool capacity and max_share_per_domain. Any status but optimal is reported as such; on a time-out "
        "a greedy heuristic answers and says so.",
    )  # fmt: skip
    alo.add_argument("file", help="allocation problem YAML file (pools, services, lambda; see docs/allocate.md)")
    alo.add_argument(
        "--lambda", dest="lam", type=_number, metavar="X", help="price of fault exposure (default: the file's)"
    )
    alo.add_argument(
        "--lambda-sweep", metavar="X,Y,...",
        help="solve at each lambda and print cost against fault exposure (with --out: sweep.csv and tradeoff.png)",
    )  # fmt: skip
    alo.add_argument(
        "--as-written", action="store_true",
        help="solve the origin document's model literally (no demands): it returns x = 0; see docs/allocate.md",
    )  # fmt: skip
    alo.add_argument("--json", action="store_true", help="print one JSON object (status, objective, terms, ...)")
    alo.add_argument("--csv", metavar="FILE", help="also write the allocation (or the sweep) as CSV")
    alo.add_argument("--out", metavar="DIR", help="with --lambda-sweep: write sweep.csv and tradeoff.png here")

    sch = sub.add_parser(
        "schema", help="print the reference of every scenario field",
        description="Print every scenario field with its type, unit, default and meaning, generated "
        "from the schema, plus the registered policies.",
    )  # fmt: skip
    fmt = sch.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="Markdown tables (the docs' reference page)")
    fmt.add_argument("--json", action="store_true", help="the JSON Schema")

    sub.add_parser(
        "policies", help="list the registered policies and their parameters",
        description="List every registered scheduler, placement and repair policy with its rule and parameters.",
    )  # fmt: skip
    for name, command in sub.choices.items():
        command.epilog = f"Exit status: {EXIT_STATUS[name]}."
    return parser


def _add_metric_arg(p: argparse.ArgumentParser, what: str) -> None:
    """--metric NAME, repeatable: the metrics a command's printed tables show (``what``: "the tables show")."""
    p.add_argument("--metric", dest="metrics", action="append", default=[], metavar="NAME",
                   help=f"a metric {what}, by its name in summary.json, e.g. jobs.p95_wait_s or "
                   "cost.by_site.<site>.total_usd; "
                   "repeatable, in the order given (default: the run summary's headline metrics; the files "
                   "keep every metric)")  # fmt: skip


def _metrics(names: Sequence[str]) -> list[str]:
    """The ``--metric`` names, each checked (a misspelled one is refused with a did-you-mean)."""
    from dcsim.metrics.names import check_metric

    return [check_metric(n, "--metric") for n in names]


def _check_metric_parts(metrics: list[str], scenario: Any) -> None:
    """Per-site and per-GPU-type ``--metric`` names must name a site or type of the scenario."""
    from dcsim.metrics.names import check_parts

    sites = [s.name for s in scenario.datacenter.sites]
    types = sorted({g.node.gpu_type for s in scenario.datacenter.sites for g in s.groups})
    check_parts(metrics, "--metric", sites, types)


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    """--executor, --workers and --scheduler, for the commands that fan runs out (sweep, plan)."""
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: a process pool (default); dask: Dask distributed")  # fmt: skip
    p.add_argument("--workers", type=_whole(1, MAX_WORKERS, "a number of processes"), default=_cores(), metavar="N",
                   help="processes, or workers of a local Dask cluster (default: the number of cores)")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDR",
                   help="with --executor dask: a scheduler such as tcp://host:8786, waited for as long as Dask's "
                   "distributed.comm.timeouts.connect (default: start a local cluster on loopback)")  # fmt: skip


def _check_executor(args: argparse.Namespace) -> None:
    """Refuse executor arguments that cannot work together."""
    if args.workers < 1:
        raise DcsimError(f"--workers {args.workers}: give at least 1")
    if args.scheduler and args.executor != "dask":
        raise DcsimError("--scheduler is a Dask scheduler address: use it with --executor dask")


def _check_seeds(first: int, n: int, flag: str) -> None:
    """Refuse replications whose seeds (first, first + 1, ...) run past the largest seed."""
    if first + n - 1 > MAX_SEED:
        raise DcsimError(f"{flag} {n}: the seeds {first}..{first + n - 1} run past the largest seed ({MAX_SEED}); "
                         "give a smaller scenario seed (--set seed=N) or fewer replications")  # fmt: skip


def _cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _check_names(out: str) -> None:
    """Refuse an ``--out`` with a folder or file name longer than the file system takes."""
    from dcsim.core.files import check_name_lengths

    too_long = check_name_lengths(out, "--out")
    if too_long:
        raise DcsimError(too_long)


def _check_out(out: str, want_dir: bool) -> None:
    """Raise a DcsimError if ``out`` cannot be written as a directory (or file) of results."""
    from dcsim.experiment.run import check_out_dir

    flag = f"--out {quote_path(out)}"
    _check_names(out)
    path = os.path.abspath(out)
    if want_dir:
        try:
            check_out_dir(out)
        except DcsimError as exc:
            raise DcsimError(f"{flag}: {exc}") from None
    if not want_dir and os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        if not first.startswith("variant,"):
            raise DcsimError(f"{flag}: {out} exists and is not an earlier dcsim compare table; give a new file name")
    _check_writable("--out", out, want_dir)


def _check_writable(flag: str, path: str, want_dir: bool) -> None:
    """Refuse a file (or directory) path that cannot be written: the wrong kind, or no writable parent."""
    full = os.path.abspath(path)
    if want_dir and os.path.exists(full) and not os.path.isdir(full):
        raise DcsimError(f"{flag} {quote_path(path)}: is a file; give a directory")
    if not want_dir and (os.path.isdir(full) or path.endswith(("/", os.sep))):
        raise DcsimError(f"{flag} {quote_path(path)}: is a directory; give a file name such as out.csv")
    parent = os.path.dirname(full)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise DcsimError(f"{flag} {quote_path(path)}: {quote_path(parent)} is a file, not a directory")
    if not os.access(parent, os.W_OK):
        raise DcsimError(f"{flag} {quote_path(path)}: cannot write in {quote_path(parent)}")


def _cmd_run(args: argparse.Namespace) -> int:
    from dcsim.experiment.run import default_out_dir, simulate, summary_json, write_results
    from dcsim.report.console import solve_time_line, summary_table
    from dcsim.report.progress import Progress
    from dcsim.scenario.load import load_scenario

    scenario = load_scenario(args.file, args.overrides, args.seed)
    report = _check_load(scenario, args)
    if args.out:
        _check_out(args.out, want_dir=True)
    warnings = [line for line in report if "overloaded" in line]
    if warnings and not args.quiet:  # before a run that would measure a state that never settles
        print("\n".join(f"warning: {line}" for line in warnings), file=sys.stderr)
    progress = Progress(scenario.horizon) if not args.quiet else None
    try:
        result = simulate(scenario, progress=progress, overrides=args.overrides, events=args.events)
    finally:
        if progress is not None:
            progress.close()
    out = write_results(result, args.out or default_out_dir(result), csv=args.csv, plots=args.plots)
    if args.json:
        sys.stdout.write(summary_json(result.summary))
    elif not args.quiet:
        print(summary_table(result.summary))
        if result.epochs is not None:
            print(solve_time_line(result.epochs))
        print(f"\nresults: {out}/  (simulated in {result.wall_time_s:.2f} s wall)")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from dcsim.infra.topology import build_topology
    from dcsim.scenario.load import load_scenario
    from dcsim.scenario.unmodelled import default_gpu_notes, unmodelled_notes

    scenario = load_scenario(args.file, args.overrides)
    topo = build_topology(scenario.datacenter)
    report = _check_load(scenario, args, topo)
    print(
        f"{args.file}: valid. {topo.n_gpus:,} GPUs on {topo.n_nodes:,} nodes in {len(topo.rack_nodes):,} racks; "
        f"{len(scenario.workload.jobs)} job class(es){' and a trace' if scenario.workload.trace else ''}."
    )
    print("\n".join(report))
    speeds = {(p.gpu_type, p.speed) for p in topo.pools}
    if len({s for _, s in speeds}) > 1:
        shown = ", ".join(f"{t} {s:g}" for t, s in sorted(speeds, key=lambda x: (-x[1], x[0])))
        print(f"GPU speeds (H100 = 1; a class's own `speed` overrides them): {shown}")
    for note in (*default_gpu_notes(scenario), *unmodelled_notes(scenario)):
        print(f"note: {note}")
    return 0


def _check_load(scenario: Any, args: argparse.Namespace, topology: Any = None) -> list[str]:
    """The offered load and the crew's, as lines to print; refuse a run that cannot finish.

    Raises:
        ScenarioError: never-ending classes offer far more than the cluster holds, and
            --allow-overload was not given.
    """
    from dcsim.core.errors import ScenarioError
    from dcsim.scenario.checks import load_report

    lines, problems = load_report(scenario, topology)
    if problems and not args.allow_overload:
        raise ScenarioError(problems, args.file)
    # Allowed, an overload is still said before the run (the message without its remedy).
    return lines + [f"overloaded: {message.partition(' and the run would take long')[0]}" for _, message in problems]


def _cmd_compare(args: argparse.Namespace) -> int:
    from dcsim.core.errors import OverrideError
    from dcsim.experiment.compare import aggregate, compare, paired_differences, parse_axis, variants
    from dcsim.experiment.run import scenario_results
    from dcsim.report.console import compare_table, difference_table
    from dcsim.scenario.load import load_scenario

    metrics = _metrics(args.metrics)
    if args.out:
        _check_out(args.out, want_dir=False)
    axes = [parse_axis(t, policy=True) for t in args.policy] + [parse_axis(t, policy=False) for t in args.vary]
    base = load_scenario(args.file, args.overrides)
    _check_metric_parts(metrics, base)
    if args.seed_list:
        try:
            seeds = [_SEED(s) for s in args.seed_list.split(",") if s.strip()]
        except argparse.ArgumentTypeError as exc:
            why = str(exc).split("; ")[0]
            raise OverrideError(f"--seed-list {quote(args.seed_list)}: {why}; give seeds from 0 to {MAX_SEED:,} "
                                "separated by commas, e.g. 1,2,3") from None  # fmt: skip
        if len(set(seeds)) != len(seeds) or not seeds:
            raise OverrideError(
                f"--seed-list {quote(args.seed_list)}: give distinct seeds (a repeated seed repeats a run)"
            )
        if len(seeds) > MAX_REPLICATIONS:
            raise OverrideError(f"--seed-list: {len(seeds):,} seeds; give at most {MAX_REPLICATIONS:,}")
    else:
        _check_seeds(base.seed, args.seeds, "--seeds")
        seeds = [base.seed + i for i in range(args.seeds)]

    def on_run(label: str, seed: int, wall: float) -> None:
        print(f"  ran {label} ({' / '.join(a.path for a in axes) or 'baseline'}), seed {seed} ({wall:.1f} s)",
              file=sys.stderr)  # fmt: skip

    labels = [v.label for v in variants(axes, base)]
    baseline = args.baseline or labels[0]
    if baseline not in labels:
        raise DcsimError(f"--baseline {quote(baseline)}: no such variant; the variants are {', '.join(labels)}")
    table = compare(args.file, axes, seeds, args.overrides, on_run)
    print(f"{base.name}: {len(seeds)} seed(s) {', '.join(map(str, seeds))}; mean ± standard error over seeds\n")
    print(compare_table(aggregate(table), [a.path for a in axes], metrics))
    if len(labels) > 1:
        print(f"\neach variant minus {baseline}, paired by seed: mean difference ± 95 % confidence half-width; "
              "* the interval excludes 0 (significant)\n")  # fmt: skip
        print(difference_table(paired_differences(table, baseline), baseline, metrics))
    out = args.out or scenario_results(base.name, "compare.csv")
    _write_csv(table, out)
    print(f"\nevery run's metrics: {out}")
    return 0


def _lambdas(text: str) -> list[float]:
    try:
        values = [_number(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError as exc:
        why = str(exc).split("; ")[0]
        raise DcsimError(f"--lambda-sweep {quote(text)}: {why}; give numbers separated by commas, e.g. "
                         "0,0.1,1,10,100") from None  # fmt: skip
    if not values or min(values) < 0:
        raise DcsimError(f"--lambda-sweep {quote(text)}: give one or more lambdas >= 0, e.g. 0,0.1,1,10,100")
    return values


def _cmd_allocate(args: argparse.Namespace) -> int:
    from dcsim.allocate.model import solve
    from dcsim.allocate.report import allocation_table, answer_text, lambda_sweep, load_problem, plot_sweep

    if args.lam is not None and args.lam < 0:
        raise DcsimError(f"--lambda {args.lam:g}: lambda must be >= 0")
    if args.out and not args.lambda_sweep:
        raise DcsimError("--out is where --lambda-sweep writes sweep.csv and tradeoff.png; give --lambda-sweep "
                         "too, or --csv FILE for one allocation")  # fmt: skip
    if args.csv:
        _check_writable("--csv", args.csv, want_dir=False)
    if args.out:
        _check_writable("--out", args.out, want_dir=True)
        if args.csv and os.path.abspath(args.csv) == os.path.abspath(args.out):
            raise DcsimError(f"--csv {quote(args.csv)}: --out names the same path, a directory; give the CSV file "
                             "another name")  # fmt: skip
    problem = load_problem(args.file)
    if args.lambda_sweep:
        sweep = lambda_sweep(problem, _lambdas(args.lambda_sweep))
        if args.json:
            print(json.dumps(sweep.to_dict(orient="records"), indent=2))
        else:
            print(f"{problem.name}: cost against fault exposure\n")
            print(sweep.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
        if args.csv:
            _write_csv(sweep, args.csv)
        if args.out:
            _write_csv(sweep, os.path.join(args.out, "sweep.csv"))
            path = plot_sweep(problem, sweep, os.path.join(args.out, "tradeoff.png"))
            if not args.json:
                print(f"\nwrote {os.path.join(args.out, 'sweep.csv')} and {path}")
        return 0
    answer = solve(problem, args.lam, as_written=args.as_written)
    if args.json:
        print(json.dumps({**answer.as_json(), "as_written": args.as_written}, indent=2))
    else:
        if args.as_written:
            print("the origin document's model as written: no demand constraints, so nothing need be placed\n")
        print(answer_text(problem, answer))
    if args.csv:
        _write_csv(allocation_table(answer), args.csv)
    return 0 if answer.status != "infeasible" else 3


def _write_csv(frame: Any, path: str) -> None:
    """Write a table atomically (temporary name, then rename)."""
    from dcsim.core.files import write_atomically

    write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def _cmd_schema(args: argparse.Namespace) -> int:
    from dcsim.scenario.reference import markdown_reference, text_reference
    from dcsim.scenario.schema import Scenario

    if args.json:
        print(json.dumps(Scenario.model_json_schema(), indent=2))
    elif args.markdown:
        print(markdown_reference())
    else:
        print(text_reference())
    return 0


def _cmd_policies(args: argparse.Namespace) -> int:
    from dcsim.scenario.reference import policies_text

    print(policies_text())
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from dcsim.core.interrupts import Interrupts

    with Interrupts(check_on_exit=False) as interrupts:  # a Ctrl-C at any moment is acted on, never lost
        return _sweep(args, interrupts)


def _sweep(args: argparse.Namespace, interrupts: Any) -> int:
    from dcsim.experiment import sweep
    from dcsim.experiment.compare import parse_axis
    from dcsim.experiment.run import scenario_results
    from dcsim.report.console import sweep_table
    from dcsim.report.progress import SweepProgress
    from dcsim.scenario.load import load_scenario

    interrupts.check()
    metrics = _metrics(args.metrics)
    _check_executor(args)
    axes = [parse_axis(t, policy=True) for t in args.policy] + [parse_axis(t, False, "--grid") for t in args.grid]
    base = load_scenario(args.file, args.overrides)
    _check_metric_parts(metrics, base)
    interrupts.check()
    replications = args.replications
    if not axes and base.sweep is not None:  # the sweep kept in the file
        axes = [parse_axis(f"{k}={','.join(v)}", True) for k, v in base.sweep.policies.items()]
        axes += [parse_axis(f"{k}={','.join(map(str, v))}", False, "sweep.grid") for k, v in base.sweep.grid.items()]
        replications = args.replications if args.replications is not None else base.sweep.replications
    replications = 3 if replications is None else replications
    _check_seeds(base.seed, replications, "--replications")
    out = args.out or scenario_results(base.name, "sweep")
    _check_names(out)
    sweep.check_sweep_dir(out)
    tasks = sweep.plan(args.file, axes, replications, args.overrides)
    interrupts.check()
    points = len({t.point for t in tasks})
    print(f"{base.name}: {points} grid point(s) x {replications} seed(s) = {len(tasks)} runs, "
          f"{args.executor} executor, {args.workers} worker(s); stored in {out}/runs", file=sys.stderr)  # fmt: skip
    progress = SweepProgress(len(tasks))
    try:
        records = sweep.execute(tasks, out, args.executor, args.workers, args.scheduler, progress)
        runs = sweep.runs_table(tasks, records, axes)
        stats = sweep.points_table(runs, axes)
        sweep.write_tables(out, runs, stats)
        interrupts.check()
    except KeyboardInterrupt:
        if not os.path.isdir(os.path.join(out, "runs")):
            print("\ndcsim sweep: interrupted before any run finished; nothing was written", file=sys.stderr)
        else:
            print(f"\ndcsim sweep: interrupted; the {progress.done} run(s) done are kept in {out}/runs: run the "
                  "same command to go on from there", file=sys.stderr)  # fmt: skip
        return 130
    failed = int((runs["error"] != "").sum())
    print(f"{base.name}: mean ± 95 % confidence half-width over {replications} seed(s)\n")
    print(sweep_table([a.path for a in axes], sweep.point_estimates(runs, stats, axes), metrics))
    print(f"\nruns: {os.path.join(out, 'runs.parquet')} (and .csv); statistics per point: "
          f"{os.path.join(out, 'points.parquet')} (and .csv)")  # fmt: skip
    if failed:
        first = runs[runs["error"] != ""].iloc[0]
        print(f"{failed} of {len(runs)} run(s) failed; the first (point {first['point']}, seed {first['seed']}): "
              f"{first['error']}", file=sys.stderr)  # fmt: skip
        return 4
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from dcsim.experiment.plan import capacity_plan, parse_target, question_dir, write_plan
    from dcsim.experiment.run import scenario_results
    from dcsim.experiment.sweep import check_sweep_dir
    from dcsim.metrics.names import describe, format_interval
    from dcsim.scenario.load import load_scenario

    target = parse_target(args.target)  # a misspelled metric stops here, before any run
    if args.low > args.high:
        raise DcsimError(f"--min {args.low} is above --max {args.high}")
    if args.replications < 2:
        raise DcsimError(f"--replications {args.replications}: give at least 2 (a confidence interval needs them)")
    _check_executor(args)
    base = load_scenario(args.file, args.overrides)
    _check_seeds(base.seed, args.replications, "--replications")
    if args.out:
        store = answer = args.out
    else:  # one store of runs per scenario (plans reuse each other's runs), one folder per question
        store = scenario_results(base.name, "plan")
        answer = os.path.join(store, question_dir(args.vary, args.low, args.high, target, args.replications,
                                                  args.overrides))  # fmt: skip
    _check_names(answer)
    check_sweep_dir(answer)
    metric = describe(target.metric)
    leaf = args.vary.rsplit(".", 1)[-1]
    print(f"{base.name}: the smallest {args.vary} in [{args.low}, {args.high}] at which {target.sentence()} at the "
          f"95 % confidence bound; {args.replications} seeds per value, by bisection:")  # fmt: skip

    def on_value(row: dict[str, Any]) -> None:
        verdict = "meets" if row["met"] else "misses"
        shown = format_interval(metric, row["mean"], row["ci_low"], row["ci_high"])
        print(f"  {leaf} = {row['value']}: {shown}: {verdict}", flush=True)

    try:
        result = capacity_plan(
            args.file, args.vary, args.low, args.high, target, args.replications, store, args.overrides, on_value,
            executor=args.executor, workers=args.workers, scheduler=args.scheduler,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"\ndcsim plan: interrupted; the runs done are kept in {store}/runs: run the same command to go on",
              file=sys.stderr)  # fmt: skip
        return 130
    files = write_plan(result, answer)
    print()
    if result.answer is None:
        print(f"no value in [{args.low}, {args.high}] meets the target: {target}")
    else:
        below = result.tried[result.tried["value"] < result.answer]["value"]
        why = f"; {int(below.max())} misses it" if len(below) and below.max() == result.answer - 1 else ""
        print(f"answer: {args.vary} = {result.answer}{why}")
    for note in result.notes:
        print(f"note: {note}")
    if result.failed_runs:
        print(f"note: {result.failed_runs} run(s) failed and were left out (their errors: {store}/runs)")
    print(f"plan: {files[0]} and {os.path.basename(files[1])}; runs: {os.path.join(store, 'runs')}")
    return 5 if result.answer is None else 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from dcsim.report.sweep_plots import plot_sweep

    target = None
    if args.target:
        from dcsim.experiment.plan import parse_target

        target = parse_target(args.target)
    drawn = plot_sweep(args.dir, args.metric, args.x, target)
    print(f"{len(drawn.written)} plot(s) in {os.path.join(args.dir, 'plots')}")
    if drawn.skipped:
        print(f"not drawn, zero at every point: {', '.join(drawn.skipped)}")
    return 0


COMMANDS = {
    "sweep": _cmd_sweep, "plan": _cmd_plan, "plot": _cmd_plot,
    "run": _cmd_run, "validate": _cmd_validate, "compare": _cmd_compare,
    "schema": _cmd_schema, "policies": _cmd_policies, "allocate": _cmd_allocate,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dcsim`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plugins_env = os.environ.get("DCSIM_NO_PLUGINS")
    if getattr(args, "no_plugins", False):
        os.environ["DCSIM_NO_PLUGINS"] = "1"  # inherited by the processes of a sweep or plan
    try:
        return COMMANDS[args.command](args)
    except DcsimError as exc:
        print(f"dcsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`dcsim schema | head`): stop quietly, as `cat` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("dcsim: interrupted; no results were written", file=sys.stderr)
        return 130
    finally:  # main() may be called again in the same process (tests, notebooks)
        if plugins_env is None:
            os.environ.pop("DCSIM_NO_PLUGINS", None)
        else:
            os.environ["DCSIM_NO_PLUGINS"] = plugins_env


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
