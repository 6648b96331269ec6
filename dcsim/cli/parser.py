"""The ``dcsim`` command's arguments: the parser of every subcommand, its help, examples and exit statuses.

Argument types refuse bad values with one message naming the argument (argparse exits 2).
Nothing here imports more than the standard library and ``dcsim.core``, so ``dcsim --help``
stays fast.
"""

from __future__ import annotations

import argparse
import math
import os
import textwrap
from typing import Any

import dcsim
from dcsim.core.bounds import MAX_REPLICATIONS, MAX_SEED, MAX_WORKERS
from dcsim.core.text import quote

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
  dcsim import swf lublin_256.swf --out studies/lublin   # a public trace -> a trace and a scenario

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
    "import": "0 success, 2 bad input (format, files, a bad row: nothing written), 130 interrupted (nothing "
    "written), 1 internal error",
}

#: Marks where ``dcsim import --help`` lists the formats (filled in only when that help is printed).
FORMATS_HERE = "{formats}"


class _ImportHelp(argparse.RawDescriptionHelpFormatter):
    """The help of ``dcsim import``: its list of formats is built when the help is printed, not at start-up."""

    def add_text(self, text: str | None) -> None:
        """Add a block of text, with the registered formats in place of :data:`FORMATS_HERE`."""
        if text and FORMATS_HERE in text:
            from dcsim.cli.importing import formats_text

            text = text.replace(FORMATS_HERE, formats_text())
        super().add_text(text)


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
        "scheduler, links.parquet with a fabric that jobs communicate over; requests.parquet, replicas.parquet, "
        "services.parquet and scaling.parquet with services; sites.parquet with several sites or prices that vary; "
        "wan_transfers.parquet with a site router; scenario_events.parquet with timed events; tenants.parquet, "
        "the per-tenant chargeback, with a tenants block) to "
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
        help="also write utilization.png and wait_cdf.png; with failures, failures.png and lost_by_cause.png; "
        "with a fabric, link_utilization.png (each tier over time) and busiest_links.png",
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
        help="policy variants, e.g. scheduler=fifo,sjf, placement=best_fit,worst_fit, "
        "repair=fifo,most_gpus_first, or a service's load_balancer=round_robin,power_of_two or "
        "autoscaler=none,hpa (set in every service); repeatable",
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

    imp = sub.add_parser(
        "import", help="convert a public cluster trace into a job or request trace and a scenario that runs it",
        description=textwrap.fill("Read the files of a public trace (Alibaba PAI 2020 and openb, Microsoft "
        "Philly, SenseTime Helios, an SWF log, an LLM inference request trace) and write into --out what dcsim "
        "reads: a trace file and a scenario that replays it (its header comment says what it asks and what to "
        "edit). Prints what was read, kept and dropped (by reason), and notes on what was assumed. A bad row "
        "stops the import with its file and line, and nothing is written.", 88)
        + "\n\n" + FORMATS_HERE
        + "\n\nexample:\n  dcsim import swf lublin_256.swf --out studies/lublin\n  dcsim run studies/lublin/swf.yaml",
        formatter_class=_ImportHelp,
    )  # fmt: skip
    imp.add_argument("format", metavar="FORMAT", help="the trace's format (listed above)")
    imp.add_argument("files", nargs="+", metavar="FILE", help="the trace's files, in the order the format lists")
    imp.add_argument("--out", required=True, metavar="DIR",
                     help="folder to write the trace and scenario into (new or empty; see --force)")  # fmt: skip
    imp.add_argument("--force", action="store_true",
                     help="write into a folder that holds files: files of the same name are replaced, the "
                     "others kept")  # fmt: skip

    sub.add_parser(
        "policies", help="list the registered policies and their parameters",
        description="List every registered scheduler, placement, repair, load balancer and autoscaler policy "
        "with its rule and parameters.",
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


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    """--executor, --workers and --scheduler, for the commands that fan runs out (sweep, plan)."""
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: a process pool (default); dask: Dask distributed")  # fmt: skip
    p.add_argument("--workers", type=_whole(1, MAX_WORKERS, "a number of processes"), default=_cores(), metavar="N",
                   help="processes, or workers of a local Dask cluster (default: the number of cores)")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDR",
                   help="with --executor dask: a scheduler such as tcp://host:8786, waited for as long as Dask's "
                   "distributed.comm.timeouts.connect (default: start a local cluster on loopback)")  # fmt: skip


def _cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
