"""Errors that reach the user.

Every error a user can cause (a wrong scenario, CLI argument or trace file) is a
:class:`DcsimError`; the CLI prints its message and exits with status 2, without a
traceback. Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

from dcsim.core.text import cut


class DcsimError(Exception):
    """Base class of every error caused by user input."""


class ScenarioError(DcsimError):
    """A scenario failed validation; holds every problem found, each with its path.

    Args:
        problems: ``(path, message)`` pairs; ``path`` is dotted, e.g.
            ``workload.jobs.0.duration.mean``.
        source: the file the scenario came from, for the message header.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self.format())

    #: Problems listed in the message; the rest are counted (a file can have thousands).
    SHOWN = 25

    def format(self) -> str:
        """Return the problems as one message, one line per problem (the first :attr:`SHOWN` of them)."""
        where = f"{self.source}: " if self.source else ""
        n = len(self.problems)
        head = f"{where}{n:,} problem{'s' if n != 1 else ''} in the scenario"
        lines = [f"  {cut(path, 120) or '(top level)'}: {cut(msg, 400)}" for path, msg in self.problems[: self.SHOWN]]
        if n > self.SHOWN:
            lines.append(f"  ... and {n - self.SHOWN:,} more (fix these first, then validate again)")
        return "\n".join([head, *lines])


class UnknownPolicyError(DcsimError):
    """A policy name that no registry knows; the message lists the valid names."""


class TraceError(DcsimError):
    """A trace or data file that cannot be read; the message names the file and line."""


class MissingFileError(TraceError):
    """A data file named in the scenario does not exist."""


class PlacementError(DcsimError):
    """A placement policy (a plug-in) returned a placement that does not fit."""


class PluginError(DcsimError):
    """A user's plug-in policy raised an exception."""


class OutputError(DcsimError):
    """An output path that cannot be written without destroying something."""


class OverrideError(DcsimError):
    """A ``--set path=value`` override that does not apply to the scenario."""


def unreadable(path: str, exc: Exception, what: str, error: type[DcsimError] = DcsimError) -> DcsimError:
    """The user's error for a file that could not be read as ``what`` (e.g. "a scenario .yaml file").

    Args:
        path: the file.
        exc: what opening or decoding it raised (an ``OSError`` or ``UnicodeDecodeError``).
        what: the kind of file expected, for the fix.
        error: the error class to return.
    """
    if isinstance(exc, FileNotFoundError):
        return error(f"{path}: file not found; give the path of {what}")
    if isinstance(exc, IsADirectoryError):
        return error(f"{path} is a directory; give {what}")
    if isinstance(exc, UnicodeDecodeError):
        return error(f"{path}: not a text (UTF-8) file; give {what}")
    return error(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}")
