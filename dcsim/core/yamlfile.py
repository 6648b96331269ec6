"""Reading YAML safely: plain data only, bounded nesting, every error with its line.

PyYAML's safe loader builds only plain data (no Python objects), but some inputs
still escape as Python errors: a tagged value it cannot convert (``!!int 1.5``), an
integer longer than Python converts (``ValueError: Exceeds the limit (4300 digits)``),
a date such as ``2024-13-45``, or nesting deep enough to exhaust the recursion limit
(the C parser crashes outright); a key given twice in one mapping is kept silently (the
last wins). :func:`load` turns each into a
:class:`yaml.MarkedYAMLError` whose mark is the value's line and column, so callers
handle every bad input as malformed YAML.

Plain scalars such as ``20:00`` or ``1:30`` are text, as in YAML 1.2: YAML 1.1 (PyYAML)
reads them as base-60 numbers (1200 and 90), which turns a clock time into the wrong
number without a word.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from dcsim.core.text import quote

MAX_DEPTH = 100
"""Deepest nesting of lists and mappings accepted (a scenario needs fewer than 10 levels)."""

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where installed: ~10x faster
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
"""YAML 1.1's base-60 integers and floats (``20:00``, ``1:30:00.5``)."""
_STR = "tag:yaml.org,2002:str"
_KINDS = {"int": "a whole number", "float": "a number", "timestamp": "a date", "bool": "true or false"}


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with conversion errors reported at the value's position."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            digits = sum(c.isdigit() for c in value)
            if isinstance(exc, ValueError) and "digits" in str(exc):
                problem = (
                    f"a number of {digits:,} digits is too long; dcsim reads numbers of up to "
                    f"{sys.get_int_max_str_digits():,} digits"
                )
            else:
                kind = _KINDS.get(str(node.tag).rsplit(":", 1)[-1], "a value of type " + quote(str(node.tag)))
                problem = f"{quote(value)} cannot be read as {kind}"
            raise ConstructorError(None, None, problem, node.start_mark) from None

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        """The tag of an untagged node, with base-60 numbers read as text (YAML 1.2)."""
        if kind is yaml.ScalarNode and implicit[0] and _BASE60.match(value):
            return _STR
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        """A mapping, refusing a key given twice (PyYAML keeps the last silently)."""
        seen: dict[tuple[str, str], Any] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if (key.tag, key.value) in seen:
                    first = seen[(key.tag, key.value)].line + 1
                    raise ConstructorError(None, None, f"the key {quote(key.value)} is given twice (first on line "
                                           f"{first}); keep one", key.start_mark)  # fmt: skip
                seen[(key.tag, key.value)] = key.start_mark
        return super().construct_mapping(node, deep)


def _check_depth(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ComposerError(
                    None, None, f"lists and mappings nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load(text: str) -> Any:
    """Parse YAML text into plain data (dicts, lists, strings, numbers, booleans, None, dates).

    Raises:
        yaml.YAMLError: malformed YAML, a value that cannot be converted, or nesting
            deeper than :data:`MAX_DEPTH`; a :class:`yaml.MarkedYAMLError` carries the
            line and column in ``problem_mark``.
    """
    _check_depth(text)  # first: the parsers recurse per level (the C one crashes past a few thousand)
    return yaml.load(text, Loader=_Loader)  # a safe loader: plain data only
