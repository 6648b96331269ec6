"""``--set path=value`` overrides, applied to the raw YAML data before validation.

A path steps into mappings by key and into lists by index
(``workload.jobs.0.duration.mean=2h``); the value is read as YAML (``2h`` stays a
string, ``3`` is a number, ``[1, 2]`` a list).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import yaml

from dcsim.core import yamlfile
from dcsim.core.errors import OverrideError
from dcsim.core.text import quote


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.0=value`` into its path and YAML value.

    Raises:
        OverrideError: no ``=`` or an empty path.
    """
    path, eq, value = text.partition("=")
    if not eq or not path.strip():
        raise OverrideError(f"--set {quote(text)}: write it as path=value, e.g. --set horizon=7d")
    try:
        parsed = yamlfile.load(value) if value.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise OverrideError(f"--set {quote(text)}: the value is not valid YAML: {problem}") from None
    return path.strip().split("."), parsed


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every override applied in order.

    Raises:
        OverrideError: a path that steps into a scalar or past the end of a list.
    """
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = out
        for depth, key in enumerate(path):
            last = depth == len(path) - 1
            where = ".".join(path[: depth + 1])
            if isinstance(node, list):
                if not key.lstrip("-").isdigit():
                    raise OverrideError(f"--set {quote(text)}: {quote(where)} indexes a list; use a number such as 0")
                index = int(key) if len(key) <= 18 else None  # int() refuses over 4,300 digits
                if index is None or not -len(node) <= index < len(node):
                    raise OverrideError(
                        f"--set {quote(text)}: {quote(where)} is out of range; the list has {len(node)} "
                        f"entr{'y' if len(node) == 1 else 'ies'}"
                    )
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[key] = value
                else:
                    if node.get(key) is None:
                        node[key] = {}
                    node = node[key]
            else:
                raise OverrideError(
                    f"--set {quote(text)}: {quote('.'.join(path[:depth]))} is a value ({quote(node)}), "
                    "not a mapping or list"
                )
    return out
