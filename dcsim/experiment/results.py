"""A run's results directory: what it holds, where it goes by default, and writing it whole or not at all.

The directory is written beside its target under a temporary name and renamed into place
when every file is in it, so a run that fails or is interrupted writes nothing; an existing
directory is replaced only if it holds one earlier dcsim run and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil

from dcsim.core.errors import OutputError
from dcsim.core.files import folder_name, make_dirs, remove_dirs
from dcsim.experiment.run import WRITTEN, RunResult, run_id, summary_json

PLOTS = (
    "utilization.png", "wait_cdf.png", "failures.png", "lost_by_cause.png", "link_utilization.png",
    "busiest_links.png", "service_latency.png", "autoscaling.png", "sites.png", "fill.png",
)  # fmt: skip
"""The plots ``--plots`` may write into a run directory."""

#: Every file a run directory may hold (its tables as Parquet and CSV, its plots); a directory
#: with anything else is not replaced.
RUN_FILES = frozenset(
    ("summary.json", "manifest.json", *PLOTS, *(f"{t}.{ext}" for t in WRITTEN for ext in ("parquet", "csv")))
)


def is_run_dir(path: str) -> bool:
    """True if ``path`` holds only files dcsim writes, with a manifest dcsim wrote."""
    entries = os.listdir(path)
    if not set(entries) <= RUN_FILES or "manifest.json" not in entries:
        return False
    try:
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"scenario_hash", "dcsim_version"} <= set(manifest)


def check_out_dir(out_dir: str) -> None:
    """Refuse an output directory whose replacement would destroy something else.

    An existing ``out_dir`` is replaced whole, so it must be empty or an earlier run
    (only files dcsim writes, and dcsim's manifest); it must not be a symbolic link,
    the working directory or one of its parents.

    Raises:
        OutputError: ``out_dir`` would destroy other files.
    """
    path = os.path.abspath(out_dir)
    here = os.path.abspath(os.getcwd())
    if here == path or here.startswith(path.rstrip(os.sep) + os.sep):
        raise OutputError(f"{out_dir} is the working directory or one of its parents; give a new directory")
    if os.path.islink(out_dir.rstrip(os.sep) or out_dir):
        raise OutputError(f"{out_dir} is a symbolic link; give a real directory")
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise OutputError(f"{out_dir} is a file, not a directory; give a new directory")
        if os.listdir(path) and not is_run_dir(path):
            others = sorted(set(os.listdir(path)) - RUN_FILES)[:3]
            what = (
                f"files or folders that are not part of one dcsim run ({', '.join(others)})"
                if others
                else ("no dcsim manifest")
            )
            raise OutputError(
                f"{out_dir} holds {what}; a results directory is replaced whole, so give a new or empty one"
            )


def write_results(
    result: RunResult,
    out_dir: str,
    csv: bool = False,
    plots: bool = False,
) -> str:
    """Write a run's files into ``out_dir``, atomically.

    Files go to a temporary sibling directory that is renamed into place only when
    all are written, so a crash leaves no half-written results; an existing
    ``out_dir`` holding an earlier run is replaced (see :func:`check_out_dir`).

    Returns:
        ``out_dir``.

    Raises:
        OutputError: ``out_dir`` would destroy other files.
    """
    check_out_dir(out_dir)
    out_dir = os.path.normpath(out_dir)
    parent = os.path.dirname(out_dir) or "."
    made = make_dirs(parent)
    tmp = os.path.join(parent, f".{os.path.basename(out_dir)}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        with open(os.path.join(tmp, "summary.json"), "w", encoding="utf-8") as fh:
            fh.write(summary_json(result.summary))
        with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as fh:
            json.dump(result.manifest(), fh, sort_keys=True, indent=2)
            fh.write("\n")
        for name, table in result.tables().items():
            table.write_parquet(os.path.join(tmp, f"{name}.parquet"))
            if csv:
                frame = result.frame(name)
                assert frame is not None
                frame.to_csv(os.path.join(tmp, f"{name}.csv"), index=False)
        if plots:
            from dcsim.report.plots import plot_run

            plot_run(result, tmp)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_dirs(made)  # a failed run leaves no results/ folder behind
        raise
    return out_dir


def _replace_dir(src: str, dst: str) -> None:
    """Move ``src`` to ``dst``, replacing an existing ``dst`` with two renames."""
    if os.path.exists(dst):
        old = f"{dst}.old-{os.getpid()}"
        os.rename(dst, old)
        os.rename(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(src, dst)


def scenario_results(name: str, *parts: str, root: str = "results") -> str:
    """``results/<scenario folder>/<parts>``: the scenario's name made one safe folder name.

    No name steers where results go: ``..``, ``/etc`` or ``a/../b`` become plain folder
    names under ``results/`` (see :func:`dcsim.core.files.folder_name`).
    """
    return os.path.join(root, folder_name(name), *parts)


def default_out_dir(result: RunResult, root: str = "results") -> str:
    """``results/<scenario>/<run id>``."""
    return scenario_results(result.scenario.name, run_id(result.seed, result.overrides), root=root)
