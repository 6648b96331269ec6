"""The scenario YAML reader: base-60 numbers are text (YAML 1.2), so clock times survive."""

from __future__ import annotations

from dcsim.core import yamlfile


def test_clock_times_are_text_not_base_60_numbers() -> None:
    """PyYAML alone reads 20:00 as 20 x 60 = 1200 and 1:30 as 90; 08:00 (leading zero) stays text."""
    data = yamlfile.load("table: {00:00: 4, 08:00: 12, 20:00: 6}\nat: 1:30\nlate: -1:30.5\n")
    assert data == {"table": {"00:00": 4, "08:00": 12, "20:00": 6}, "at": "1:30", "late": "-1:30.5"}


def test_other_numbers_still_resolve() -> None:
    data = yamlfile.load("a: 12\nb: 1_000\nc: 0.5\nd: -3\ne: 0x1f\nf: 1e3\ng: 2h\nh: !!int 1:30\n")
    assert data == {"a": 12, "b": 1000, "c": 0.5, "d": -3, "e": 31, "f": "1e3", "g": "2h", "h": 90}
