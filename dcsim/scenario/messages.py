"""Validation errors in a user's words: what was wrong with a value and how to fix it.

Pydantic reports errors by type (``int_parsing``, ``extra_forbidden``, ...) with messages
written for programmers (``Input should be a valid integer``). :func:`plain` turns one
error into a short sentence about the user's value; :func:`as_written` shows a value cut to
a few dozen characters, so that a 100,000-character string never floods the terminal.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from typing import Any

from dcsim.core.text import QUOTE_LIMIT, cut


def as_written(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A user's value as it would be written in YAML (or described, for a list or mapping), cut to ``limit``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null (empty)"
    elif isinstance(value, float) and not math.isfinite(value):
        text = ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    elif isinstance(value, int):
        # str() of an integer over 4,300 digits raises; such a number is described, not printed.
        text = str(value) if abs(value) < 10**QUOTE_LIMIT else f"a whole number of over {QUOTE_LIMIT} digits"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping" + (f" with keys {', '.join(map(str, list(value)[:5]))}" if value else " (empty)")
    elif isinstance(value, list | tuple):
        text = f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    else:
        text = repr(value)
    return cut(text, limit)


def _expected(what: str) -> Callable[[dict[str, Any]], str]:
    return lambda e: f"expected {what}, got {as_written(e.get('input'))}"


def _bound(sign: str, key: str) -> Callable[[dict[str, Any]], str]:
    def say(e: dict[str, Any]) -> str:
        limit = (e.get("ctx") or {}).get(key)
        return f"must be {sign} {limit:g}, got {as_written(e.get('input'))}" if isinstance(limit, int | float) else (
            f"out of range: {as_written(e.get('input'))}"
        )  # fmt: skip

    return say


def _length(e: dict[str, Any]) -> str:
    ctx = e.get("ctx") or {}
    if e["type"] == "too_short":
        return f"give at least {ctx.get('min_length', 1)} item(s)"
    return f"give at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length', 'more')}"


def _literal(e: dict[str, Any]) -> str:
    expected = str((e.get("ctx") or {}).get("expected", ""))
    options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
    given = e.get("input")
    close = difflib.get_close_matches(str(given), options, n=1, cutoff=0.6) if isinstance(given, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{as_written(given)} is not one of {expected}{hint}"


def _union_tag(e: dict[str, Any]) -> str:
    ctx = e.get("ctx") or {}
    tag, expected = str(ctx.get("tag", "")), str(ctx.get("expected_tags", ""))
    if e["type"] == "union_tag_not_found":
        return f"say which kind with `{ctx.get('discriminator', 'dist').strip(chr(39))}:` (one of {expected})"
    options = [t.strip().strip("'") for t in expected.split(",")]
    close = difflib.get_close_matches(tag, options, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{as_written(tag)} is not one of {expected}{hint}"


_PLAIN: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda e: "required field is missing",
    "int_type": _expected("a whole number"),
    "int_parsing": _expected("a whole number"),
    "int_from_float": _expected("a whole number"),
    "int_parsing_size": lambda e: "this number is too large; give a smaller whole number",
    "float_type": _expected("a number"),
    "float_parsing": _expected("a number"),
    "finite_number": lambda e: f"must be a finite number, got {as_written(e.get('input'))}",
    "bool_type": _expected("true or false"),
    "bool_parsing": _expected("true or false"),
    "string_type": _expected("text"),
    "string_too_short": lambda e: "must not be empty",
    "string_too_long": lambda e: f"too long: at most {(e.get('ctx') or {}).get('max_length')} characters",
    "string_pattern_mismatch": lambda e: f"{as_written(e.get('input'))} is not allowed here",
    "list_type": _expected("a list"),
    "tuple_type": _expected("a list"),
    "set_type": _expected("a list"),
    "dict_type": _expected("a mapping (key: value, ...)"),
    "mapping_type": _expected("a mapping (key: value, ...)"),
    "model_type": _expected("a mapping (key: value, ...)"),
    "model_attributes_type": _expected("a mapping (key: value, ...)"),
    "greater_than": _bound(">", "gt"),
    "greater_than_equal": _bound(">=", "ge"),
    "less_than": _bound("<", "lt"),
    "less_than_equal": _bound("<=", "le"),
    "too_short": _length,
    "too_long": _length,
    "literal_error": _literal,
    "enum": _literal,
    "union_tag_invalid": _union_tag,
    "union_tag_not_found": _union_tag,
    "set_item_not_hashable": lambda e: "give plain values (numbers or text) here, not lists or mappings",
    "recursion_loop": lambda e: "nested too deeply",
}


def plain(error: dict[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as a short sentence for a user.

    ``extra_forbidden`` (an unknown key) is left to the caller, which knows the block's fields.
    """
    kind = str(error.get("type", ""))
    if kind in _PLAIN:
        return _PLAIN[kind](error)
    msg = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if msg.startswith("Input should be"):  # a type we have no sentence for: keep pydantic's meaning
        what = msg.removeprefix("Input should be").split(",")[0]
        return f"expected{what}, got {as_written(error.get('input'))}"
    return cut(msg, 300)


def params_problems(errors: Iterable[dict[str, Any]]) -> list[str]:
    """A policy's ``Params`` errors as ``params.<field>: <sentence>`` items."""
    out = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()))
        what = "unknown parameter; `dcsim policies` lists each policy's" if e.get("type") == "extra_forbidden" else (
            plain(e)
        )  # fmt: skip
        out.append(f"params.{where}: {what}" if where else f"params: {what}")  # a check across the params
    return out
