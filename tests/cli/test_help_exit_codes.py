"""`dcsim --help` and every `dcsim COMMAND --help` list the exit statuses the command can return."""

from __future__ import annotations

import re

import pytest

from dcsim.cli import build_parser

#: What each command returns, from reading its code: main() maps DcsimError to 2, KeyboardInterrupt to 130.
STATUSES = {
    "run": {0, 1, 2, 130},
    "validate": {0, 1, 2, 130},
    "compare": {0, 1, 2, 130},
    "sweep": {0, 1, 2, 4, 130},
    "plan": {0, 1, 2, 5, 130},
    "plot": {0, 1, 2, 130},
    "allocate": {0, 1, 2, 3, 130},
    "schema": {0, 1},
    "policies": {0, 1},
    "import": {0, 1, 2, 130},
}


def listed(text: str) -> set[int]:
    """The statuses a help text's exit-status part names: each number followed by what it means."""
    part = re.split(r"exit status:", text, flags=re.IGNORECASE)[-1]
    return {int(n) for n in re.findall(r"(?<![\w.\-\[])(\d+)\s+(?=[a-z(`])", part)}


def test_top_level_help_lists_every_status() -> None:
    """`dcsim --help` names every status any command returns."""
    assert listed(build_parser().format_help()) == set().union(*STATUSES.values())


@pytest.mark.parametrize("command", sorted(STATUSES))
def test_each_command_help_lists_its_statuses(command: str) -> None:
    """`dcsim COMMAND --help` names exactly the statuses that command can return."""
    sub = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    assert listed(sub.format_help()) == STATUSES[command]
