"""``dcsim import FORMAT FILE... --out DIR``: convert a public trace into files dcsim reads.

The importer writes into a temporary folder beside ``DIR``; only when it has finished are
its files moved into ``DIR``, so an error (a bad row, exit 2) or Ctrl-C leaves nothing
behind. ``DIR`` must be new or empty; ``--force`` writes into a folder that holds files
(files of the same name are replaced, the others kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

from dcsim.core.errors import DcsimError, MissingFileError, OutputError
from dcsim.core.files import check_name_lengths, make_dirs, remove_dirs
from dcsim.core.text import quote, quote_path


def formats_text() -> str:
    """The registered formats, each with the files it takes and what it does (for ``--help``)."""
    from dcsim.workload.importers import load_importers

    entries = load_importers()
    lines = ["formats:"]
    for name in sorted(entries):
        entry = entries[name]
        lines.append(f"  {name} {entry.files}")
        lines.append(textwrap.fill(entry.help, 88, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)


def run_import(args: argparse.Namespace) -> int:
    """Run one import and print what it read, kept, dropped and wrote.

    Raises:
        DcsimError: an unknown format, the wrong number of files, a missing file, an ``--out``
            that holds files (without ``--force``), or a bad row (a TraceError naming file and line).
    """
    from dcsim.workload.importers import file_counts, load_importers

    entries = load_importers()
    entry = entries.get(args.format)
    if entry is None:
        raise DcsimError(f"unknown format {quote(args.format)}; the formats are {', '.join(sorted(entries))} "
                         "(dcsim import --help lists the files each takes)")  # fmt: skip
    least, most = file_counts(entry.files)
    n = len(args.files)
    if n < least or (most is not None and n > most):
        raise DcsimError(f"{args.format} takes {entry.files} ({_count(least, most)}); {n} given")
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.exists():
            raise MissingFileError(f"{quote_path(str(f))}: file not found; {args.format} takes {entry.files}")
        if f.is_dir():
            raise MissingFileError(f"{quote_path(str(f))} is a folder; {args.format} takes files: {entry.files}")
    out = Path(args.out)
    _check_out(out, args.force)
    made = make_dirs(str(out.parent))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    try:
        report = entry.run(files, tmp)
        names = [p.relative_to(tmp) for p in report.written]
        inputs = {f.resolve() for f in files}
        clash = next((name for name in names if (out / name).resolve() in inputs), None)
        if clash is not None:
            raise OutputError(f"--out {quote_path(args.out)}: the import writes {clash}, which is one of the files "
                              "read; give another --out")  # fmt: skip
        _move(tmp, out, names)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_dirs(made)
        raise
    report.written = [out / name for name in names]
    print(_summary(report))
    return 0


def _count(least: int, most: int | None) -> str:
    if most is None:
        return f"{least} or more files"
    return f"{least} file{'s' if least != 1 else ''}" if least == most else f"{least} to {most} files"


def _check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that is a file, or a folder that holds files (unless ``force``)."""
    too_long = check_name_lengths(str(out), "--out")
    if too_long:
        raise OutputError(too_long)
    flag = f"--out {quote_path(str(out))}"
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag}: is a file; give a folder (new or empty)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(f"{flag}: the folder holds files; give a new or empty folder, or --force to write into it "
                          "(files of the same name are replaced, the others kept)")  # fmt: skip
    parent = out.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"{flag}: cannot write in {quote_path(str(parent))}")


def _move(tmp: Path, out: Path, names: list[Path]) -> None:
    """Move the files written in ``tmp`` into ``out`` (a rename of the folder when ``out`` is new)."""
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp made it private; the folder is the user's, as mkdir makes it
        os.replace(tmp, out)
        return
    for name in names:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, out / name)
    shutil.rmtree(tmp, ignore_errors=True)


def _summary(report: object) -> str:
    """What an import read, kept, dropped (by reason), wrote and noted, as printed."""
    from dcsim.workload.importers import ImportReport

    assert isinstance(report, ImportReport)
    lines = [f"{report.format}: read {report.read:,}, kept {report.kept:,}, dropped {sum(report.dropped.values()):,}"]
    for reason, k in sorted(report.dropped.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  dropped {k:,}: {reason}")
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"wrote {path}" for path in report.written]
    scenario = next((p for p in report.written if p.suffix == ".yaml"), None)
    if scenario is not None:
        lines.append(f"run it: dcsim run {scenario}")
    return "\n".join(lines)
