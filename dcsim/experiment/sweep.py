"""Sweeps: a grid of settings times replications, run in parallel, resumable, with statistics.

Every grid point runs on the same seeds (common random numbers: points are paired).
Each run is stored as it finishes under a key derived from the resolved scenario's hash
and the seed (``runs/<key>.json``, written to a temporary name and renamed), so a sweep
run again skips what is done, and one killed loses at most the runs in flight. The
tables are built from those files in grid order, so they are the same bytes whatever
the executor and the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dcsim.core.errors import DcsimError
from dcsim.core.files import write_atomically
from dcsim.core.interrupts import POLL_S, Interrupts
from dcsim.experiment.compare import Axis, variants
from dcsim.experiment.run import scenario_hash, scenario_json
from dcsim.experiment.sweep_tables import point_estimates, points_table, runs_table, write_tables
from dcsim.scenario.load import load_scenario

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Task:
    """One run of a sweep: grid point ``point`` (its ``values``) on ``seed``."""

    index: int
    point: int
    values: dict[str, str]
    seed: int
    key: str
    data: dict[str, Any]
    base_dir: str


def plan(path: str, axes: Sequence[Axis], replications: int, overrides: Sequence[str] = ()) -> list[Task]:
    """Every (grid point, seed) of the sweep, point-major; each point's scenario is validated here.

    Seeds are the scenario's seed and the ``replications - 1`` after it, the same at
    every point. A run's key is a hash of its resolved scenario (without the seed, with
    its data files) and the seed.

    Raises:
        ScenarioError, OverrideError: a grid value that does not make a valid scenario.
    """
    paths = [a.path for a in axes]
    for name in paths:
        if name == "seed":
            raise DcsimError("the grid cannot vary seed: every point runs on the same seeds; use --replications")
        if paths.count(name) > 1:
            raise DcsimError(f"{name} is a grid axis twice; give its values once, e.g. {name}=A,B,C")
    base = load_scenario(path, overrides)
    seeds = [base.seed + i for i in range(replications)]
    base_dir = os.path.dirname(os.path.abspath(path))
    tasks: list[Task] = []
    for p, variant in enumerate(variants(axes, base)):
        sets = [*overrides, *variant.overrides]
        scenario = load_scenario(path, sets)
        digest = scenario_hash(scenario)
        for seed in seeds:
            key = hashlib.sha256(f"{digest}:{seed}".encode()).hexdigest()[:24]
            data = scenario_json(scenario)
            data["seed"] = seed
            tasks.append(Task(len(tasks), p, variant.values, seed, key, data, base_dir))
    return tasks


def run_task(data: dict[str, Any], base_dir: str, seed: int) -> dict[str, Any]:
    """Run one scenario (as resolved data) on ``seed``; never raises: a failure is returned as ``error``.

    This is what a worker process executes; it imports the engine itself.
    """
    from dcsim.experiment.run import simulate
    from dcsim.metrics.scoring import flatten
    from dcsim.scenario.load import scenario_from_data

    t0 = time.perf_counter()
    try:
        result = simulate(scenario_from_data(data, base_dir), seed)
        metrics = {k: v for k, v in flatten(result.summary).items() if not isinstance(v, list)}
        return {"metrics": metrics, "error": None, "wall_time_s": time.perf_counter() - t0}
    except (Exception, SystemExit) as exc:  # a failing run must not sink the sweep: it is recorded
        return {"metrics": {}, "error": f"{type(exc).__name__}: {exc}", "wall_time_s": time.perf_counter() - t0}


DIED = "the run's process died (a crash, the out-of-memory killer, or a plug-in that exits)"
"""The error recorded for a run whose worker process died under it."""


def _write_json(path: str, record: dict[str, Any]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh, sort_keys=True, allow_nan=True)
            fh.flush()
            os.fsync(fh.fileno())

    write_atomically(path, write)


def _alive(pid: int) -> bool:
    """True if process ``pid`` exists (another sweep may be writing into the same store)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """Finished runs under ``<out>/runs/<key>.json``.

    The folders are made when the first run is stored, so a sweep that fails before
    (a Dask scheduler it cannot reach, a Ctrl-C) leaves nothing behind.
    """

    def __init__(self, out_dir: str) -> None:
        self.dir = os.path.join(out_dir, "runs")
        names = os.listdir(self.dir) if os.path.isdir(self.dir) else []
        for name in names:  # a write cut short by a kill: never a result
            pid = name.rpartition(".tmp-")[2]
            if ".tmp-" in name and not (pid.isdigit() and _alive(int(pid))):
                os.remove(os.path.join(self.dir, name))

    def path(self, key: str) -> str:
        """The file of run ``key``."""
        return os.path.join(self.dir, f"{key}.json")

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored run, or None (a file that does not read as a run counts as missing)."""
        try:
            with open(self.path(key), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and "metrics" in record else None

    def put(self, task: Task, outcome: dict[str, Any]) -> dict[str, Any]:
        """Store a run's outcome, atomically; return the record as it reads back (so fresh and stored ones agree)."""
        record = {"key": task.key, "point": task.point, "values": task.values, "seed": task.seed, **outcome}
        _write_json(self.path(task.key), record)  # makes the folders
        return json.loads(json.dumps(record, sort_keys=True, allow_nan=True))


def _worker_init(parent: int) -> None:
    """In each pool worker: leave Ctrl-C to the sweep's process, and die with it (Linux)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # discards a Ctrl-C held back while it started
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies, even by SIGKILL
    except (OSError, AttributeError, TypeError):
        pass  # not Linux: a worker outlives a killed parent only until its current run ends
    if os.getppid() != parent:  # the sweep died before the line above took effect
        os._exit(1)


def _pool(workers: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork where there is one (the workers start with dcsim already imported); spawn elsewhere
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),))


def _stop(pool: Any) -> None:
    """End a pool now: its workers are terminated, what they ran is lost (it was not stored)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _completed(futures: dict[Any, Task], interrupts: Interrupts) -> Iterator[Any]:
    """The futures as they complete (those done together in task order), looking for a Ctrl-C meanwhile."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
        interrupts.check()
        yield from sorted(done, key=lambda f: futures[f].index)


def _local(todo: Sequence[Task], workers: int, interrupts: Interrupts) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Runs in a pool of worker processes (one worker too: a crashing run cannot take the sweep with it).

    If a worker dies (its pool breaks), every run it may have held is run again alone,
    in a pool of its own; a run whose process dies again is recorded as failed.
    """
    from concurrent.futures.process import BrokenProcessPool

    suspects: list[Task] = []
    if not todo:
        return
    pool = None
    try:
        with interrupts.starting():
            pool = _pool(min(workers, len(todo)))  # a forking pool starts all its workers at once
            futures = {pool.submit(run_task, t.data, t.base_dir, t.seed): t for t in todo}
        for future in _completed(futures, interrupts):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                suspects.append(futures[future])
                continue
            yield futures[future], outcome
            interrupts.check()
    except BaseException:
        if pool is not None:
            _stop(pool)
        raise
    pool.shutdown(wait=True)
    for task in sorted(suspects, key=lambda t: t.index):
        alone = None
        try:
            with interrupts.starting():
                alone = _pool(1)
                future = alone.submit(run_task, task.data, task.base_dir, task.seed)
            for _ in _completed({future: task}, interrupts):
                pass
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = {"metrics": {}, "error": DIED, "wall_time_s": 0.0}
            yield task, outcome
            interrupts.check()
        except BaseException:
            if alone is not None:
                _stop(alone)
            raise
        alone.shutdown(wait=True)


def _dask(
    todo: Sequence[Task], workers: int, scheduler: str | None, interrupts: Interrupts
) -> Iterator[tuple[Task, dict[str, Any]]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise DcsimError("--executor dask needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler is None:
        try:
            with interrupts.starting():
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                )
        except Exception:
            interrupts.check()  # a Ctrl-C to the group kills the workers as they start: it is the interrupt
            raise
    try:
        client = Client(scheduler or cluster)  # waits distributed.comm.timeouts.connect of Dask's config
    except (OSError, ValueError, TypeError) as exc:
        if cluster is not None:
            cluster.close()
        if not isinstance(exc, OSError):
            raise DcsimError(
                f"--scheduler {scheduler}: not a scheduler address; give one such as tcp://host:8786"
            ) from None
        import dask

        wait = dask.config.get("distributed.comm.timeouts.connect")
        raise DcsimError(
            f"--scheduler {scheduler}: no Dask scheduler answered there within {wait}; start one there "
            "(`dask scheduler`) or give the address it prints, e.g. tcp://host:8786"
        ) from None
    try:
        interrupts.check()
        futures = {
            client.submit(run_task, t.data, t.base_dir, t.seed, key=f"dcsim-run-{t.key}", pure=False): t for t in todo
        }
        ready = as_completed(futures)
        while not ready.is_empty():
            batch = ready.next_batch(block=False)
            interrupts.check()
            if not batch:
                time.sleep(POLL_S)
            for future in sorted(batch, key=lambda f: futures[f].index):
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died under the run (Dask retried it, then gave up)
                    outcome = {"metrics": {}, "error": f"{DIED}: {type(exc).__name__}: {exc}", "wall_time_s": 0.0}
                yield futures[future], outcome
                interrupts.check()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(
    tasks: Sequence[Task],
    out_dir: str,
    executor: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any], bool], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the tasks not already stored; return every task's record, in task order.

    Args:
        tasks: from :func:`plan`.
        out_dir: the sweep's directory (its ``runs/`` store).
        executor: ``local`` (a process pool) or ``dask``.
        workers: processes (local) or Dask workers of a local cluster.
        scheduler: a Dask scheduler address (none: a local cluster on loopback).
        on_done: called after each run with (record, was it stored before).

    Raises:
        KeyboardInterrupt: Ctrl-C, whenever it came (see :class:`Interrupts`); the
            workers are stopped first, and the runs stored so far are kept.
    """
    if executor not in EXECUTORS:
        raise DcsimError(f"--executor {executor!r}: use one of {', '.join(EXECUTORS)}")
    store = Store(out_dir)
    records: dict[str, dict[str, Any]] = {}
    todo: list[Task] = []
    for task in tasks:
        stored = store.get(task.key)
        if stored is not None and stored.get("error") is None:
            records[task.key] = stored
            if on_done is not None:
                on_done(stored, True)
        elif task.key not in {t.key for t in todo}:
            todo.append(task)
    with Interrupts() as interrupts:
        runs = _local(todo, workers, interrupts) if executor == "local" else _dask(todo, workers, scheduler, interrupts)
        for task, outcome in runs:
            records[task.key] = store.put(task, outcome)
            if on_done is not None:
                on_done(records[task.key], False)
    return [records[t.key] for t in tasks]


def check_sweep_dir(out_dir: str) -> None:
    """Refuse a sweep directory that holds files other than a sweep's.

    Raises:
        DcsimError: ``out_dir`` is a file, or a folder of other files.
    """
    if os.path.isfile(out_dir):
        raise DcsimError(f"--out {out_dir}: is a file; give a directory for the sweep")
    parent = os.path.abspath(out_dir)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise DcsimError(f"--out {out_dir}: {parent} is not a directory this user can write in; give another")
    if os.path.isdir(out_dir):
        ours = {"runs", "runs.parquet", "runs.csv", "points.parquet", "points.csv", "plan.csv", "plan.png", "plots"}
        others = sorted(e for e in os.listdir(out_dir) if e not in ours and ".tmp-" not in e)
        if others:
            raise DcsimError(
                f"--out {out_dir}: holds {', '.join(others[:3])}, which a sweep does not write; give a new "
                "directory (or an earlier sweep's, to resume it)"
            )


__all__ = [
    "EXECUTORS", "Interrupts", "Store", "Task", "check_sweep_dir", "execute", "plan", "point_estimates",
    "points_table", "run_task", "runs_table", "write_tables",
]  # fmt: skip
