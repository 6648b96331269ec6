"""Checks of the ``dcsim`` command's arguments that need more than a type: output paths, seeds, metrics, executors.

Each raises a ``DcsimError`` naming the argument and the fix, before anything runs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from dcsim.core.bounds import MAX_SEED
from dcsim.core.errors import DcsimError
from dcsim.core.text import quote_path


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


def _check_names(out: str) -> None:
    """Refuse an ``--out`` with a folder or file name longer than the file system takes."""
    from dcsim.core.files import check_name_lengths

    too_long = check_name_lengths(out, "--out")
    if too_long:
        raise DcsimError(too_long)


def _check_out(out: str, want_dir: bool) -> None:
    """Raise a DcsimError if ``out`` cannot be written as a directory (or file) of results."""
    from dcsim.experiment.results import check_out_dir

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
