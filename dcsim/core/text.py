"""Quoting a user's value in a message, cut so that a 100,000-character value cannot flood it."""

from __future__ import annotations

QUOTE_LIMIT = 60
"""Characters of a quoted value kept; a longer one is cut with '...'."""


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (with '...')."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters (with '...')."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long for str() (over 4,300 digits)
        text = "a number too long to print"
    return cut(text, limit)


def quote_path(path: str, limit: int = QUOTE_LIMIT) -> str:
    """A path quoted for a message, cut at its start when long: its end names the file."""
    text = repr(path)
    return text if len(text) <= limit else "'..." + text[-(limit - 4) :]
