"""Importers of public cluster traces: ``dcsim import FORMAT FILE... --out DIR``.

Each importer reads the files of one public trace format and writes, into ``DIR``, what
dcsim reads: a job trace (CSV with its column mapping), a pod list, a request trace, and a
scenario file that runs it. It returns an :class:`ImportReport`: what was read, what was
kept and what was dropped, by reason, so the user sees what the conversion cost. A bad row
raises :class:`dcsim.core.errors.TraceError` naming the file and line (exit 2), and nothing
is written.

An importer registers itself with :func:`importer`; the command lists the registry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportReport:
    """What one import read, kept, dropped (by reason) and wrote.

    Attributes:
        format: the importer's name.
        read: rows (jobs, pods, requests, nodes) read.
        kept: rows written.
        dropped: rows left out, by reason (a sentence each, e.g. "no GPU requested").
        written: files written, in order.
        notes: anything else the user should know (units assumed, fields not carried over).
    """

    format: str
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Importer = Callable[[Sequence[Path], Path], ImportReport]
"""``importer(files, out_dir) -> ImportReport``: reads ``files``, writes into ``out_dir``."""


@dataclass(frozen=True)
class ImporterEntry:
    """A registered importer: its function, the files it takes, a one-line description."""

    run: Importer
    files: str
    help: str


IMPORTERS: dict[str, ImporterEntry] = {}
"""Importers by format name."""


def importer(name: str, files: str, help: str) -> Callable[[Importer], Importer]:
    """Register an importer under ``name``; ``files`` says which files it takes (for ``--help``).

    ``files`` names the files in order, separated by blanks: ``NAME`` is required, ``[NAME]``
    optional, and a last ``NAME...`` takes one or more; ``dcsim import`` checks the count
    against it (see :func:`file_counts`).
    """

    def register(fn: Importer) -> Importer:
        IMPORTERS[name] = ImporterEntry(fn, files, help)
        return fn

    return register


def file_counts(files: str) -> tuple[int, int | None]:
    """The fewest and most files an importer's ``files`` text takes (most None: no limit)."""
    words = files.split()
    least = sum(1 for w in words if not w.startswith("["))
    most = None if words and words[-1].endswith("...") else len(words)
    return least, most


def load_importers() -> dict[str, ImporterEntry]:
    """The registry, with every importer module of this package imported (each registers itself)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name != "common":
            importlib.import_module(f"{__name__}.{module.name}")
    return IMPORTERS


__all__ = ["IMPORTERS", "ImportReport", "Importer", "ImporterEntry", "file_counts", "importer", "load_importers"]
