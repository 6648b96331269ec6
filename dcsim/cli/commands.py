"""The ``dcsim`` subcommands: each parses its scenario, checks its arguments, runs and prints.

Each command imports what it needs when it runs (a run never imports pandas or matplotlib
unless asked for a plot or a table that needs them); every error a user can cause is a
``DcsimError``, which :func:`dcsim.cli.main` prints as one message with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from dcsim.cli.checks import (
    _check_executor,
    _check_metric_parts,
    _check_names,
    _check_out,
    _check_seeds,
    _check_writable,
    _metrics,
)
from dcsim.cli.parser import _SEED, _number
from dcsim.core.bounds import MAX_REPLICATIONS, MAX_SEED
from dcsim.core.errors import DcsimError
from dcsim.core.text import quote


def _cmd_run(args: argparse.Namespace) -> int:
    from dcsim.experiment.results import default_out_dir, write_results
    from dcsim.experiment.run import simulate, summary_json
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
    from dcsim.infra.sites import series_notes
    from dcsim.infra.topology import build_topology
    from dcsim.scenario.load import load_scenario
    from dcsim.scenario.unmodelled import default_gpu_notes, unmodelled_notes
    from dcsim.workload.trace import trace_notes

    scenario = load_scenario(args.file, args.overrides)
    topo = build_topology(scenario.datacenter)
    if scenario.workload.fill is not None:  # no jobs, no time: say what the fill does
        from dcsim.engine.fill import describe_fill

        print(f"{args.file}: valid. {describe_fill(scenario)}.")
        return 0
    report = _check_load(scenario, args, topo)
    print(
        f"{args.file}: valid. {topo.n_gpus:,} GPUs on {topo.n_nodes:,} nodes in {len(topo.rack_nodes):,} racks; "
        f"{len(scenario.workload.jobs)} job class(es){' and a trace' if scenario.workload.trace else ''}"
        f"{f', {len(scenario.services)} service(s)' if scenario.services else ''}."
    )
    if not scenario.workload.jobs and scenario.workload.trace is None:  # services alone: no training to offer
        report = [line for line in report if not line.startswith("offered load")]
    if report:
        print("\n".join(report))
    for line in _service_lines(scenario, topo):
        print(line)
    for i, event in sorted(enumerate(scenario.events), key=lambda e: e[1].at):
        print(f"event {i} {event.describe()}")
    speeds = {(p.gpu_type, p.speed) for p in topo.pools if p.gpus_per_node}
    if len({s for _, s in speeds}) > 1:
        shown = ", ".join(f"{t} {s:g}" for t, s in sorted(speeds, key=lambda x: (-x[1], x[0])))
        print(f"GPU speeds (H100 = 1; a class's own `speed` overrides them): {shown}")
    read = trace_notes(scenario.workload.trace, scenario.base_dir)
    for note in (*read, *default_gpu_notes(scenario), *unmodelled_notes(scenario), *series_notes(scenario)):
        print(f"note: {note}")
    return 0


def _service_lines(scenario: Any, topology: Any) -> list[str]:
    """One line per service: its mean request rate, its replicas and GPUs, and the replicas its run times keep busy.

    A fleet whose ``initial`` or ``max`` replicas need more GPUs than its pools hold gets a note.
    """
    from dcsim.workload.distributions import duration_sampler
    from dcsim.workload.requests import mean_rate

    out, notes = [], []
    for svc in scenario.services:
        pools = topology.allowed_pools(svc.gpu_types, svc.min_gpu_memory)
        room = sum(topology.pools[p].gpus for p in pools)
        for what, n in (("initial", svc.replicas.start), ("max", svc.replicas.max)):
            if n * svc.gpus_per_replica > room:
                notes.append(f"note: service {svc.name}: replicas.{what} ({n}) needs {n * svc.gpus_per_replica:,} GPUs "
                           f"but its GPU types have {room:,}: at most {room // svc.gpus_per_replica} can be placed, "
                           "the rest wait")  # fmt: skip
                break
        rate = mean_rate(svc, scenario.horizon, scenario.base_dir)
        r = svc.replicas
        text = (
            f"service {svc.name}: {rate:,.3g} requests/s on average; {r.min} to {r.max} replicas of "
            f"{svc.gpus_per_replica} GPUs (up to {r.max * svc.gpus_per_replica:,} GPUs), {r.start} at the start"
        )
        if svc.service_model.time is not None:
            _, mean = duration_sampler(svc.service_model.time, scenario.base_dir)
            busy = rate * mean / svc.service_model.concurrency
            text += f"; its requests keep {busy:,.3g} replicas busy on the reference GPU"
        out.append(text)
    return out + notes


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
    from dcsim.experiment.results import scenario_results
    from dcsim.report.console import compare_table, difference_table
    from dcsim.scenario.load import load_scenario

    metrics = _metrics(args.metrics)
    if args.out:
        _check_out(args.out, want_dir=False)
    axes = [parse_axis(t, policy=True) for t in args.policy] + [parse_axis(t, policy=False) for t in args.vary]
    base = load_scenario(args.file, args.overrides)
    _check_metric_parts(metrics, base)
    if base.workload.fill is not None and not metrics:  # a fill's metrics, not the jobs'
        from dcsim.metrics.names import FILL_ROWS

        metrics = [name for name, _, _ in FILL_ROWS]
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
    from dcsim.experiment.results import scenario_results
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
    if base.workload.fill is not None:  # the FGD study's figure, and its metrics in the table
        from dcsim.metrics.names import FILL_ROWS
        from dcsim.report.fill_plots import plot_fill_sweep

        metrics = metrics or [name for name, _, _ in FILL_ROWS]
        drawn = plot_fill_sweep(out, runs, [a.path for a in axes])
        if drawn is not None:
            print(f"allocation rate against arrived workload: {drawn}", file=sys.stderr)
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
    from dcsim.experiment.results import scenario_results
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


def _cmd_import(args: argparse.Namespace) -> int:
    from dcsim.cli.importing import run_import

    return run_import(args)


COMMANDS = {
    "sweep": _cmd_sweep, "plan": _cmd_plan, "plot": _cmd_plot,
    "run": _cmd_run, "validate": _cmd_validate, "compare": _cmd_compare,
    "schema": _cmd_schema, "policies": _cmd_policies, "allocate": _cmd_allocate,
    "import": _cmd_import,
}  # fmt: skip
