"""The ``dcsim`` command: run, validate, compare, sweep, plan, plot, allocate, import, schema, policies.

Every error a user can cause prints one message naming the field, line or argument
and exits with status 2, without a traceback. The parser is in :mod:`dcsim.cli.parser`,
the subcommands in :mod:`dcsim.cli.commands`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from dcsim.cli.commands import COMMANDS
from dcsim.cli.parser import EPILOG, EXIT_STATUS, build_parser
from dcsim.core.errors import DcsimError


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


__all__ = ["EPILOG", "EXIT_STATUS", "build_parser", "main"]
