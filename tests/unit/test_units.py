"""Quantities with units: parsed once into engine units (s, 1/s, W, bit/s, bytes)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcsim.core.units import bandwidth, duration, format_duration, power, rate, size

REJECTED = r"expected a|unknown unit|must be finite"
finite = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**6)


# --------------------------------------------------------------------------- duration
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0), ("90 s", 90.0), ("90sec", 90.0), ("250ms", 0.25),
        ("15m", 15 * 60.0), ("15min", 15 * 60.0), ("2h", 2 * 3600.0), ("2hr", 2 * 3600.0), ("2H", 2 * 3600.0),
        ("7d", 7 * 86400.0), ("1w", 7 * 86400.0), ("1y", 365 * 86400.0),
        ("1.5h", 1.5 * 3600), (".5h", 0.5 * 3600), ("1e3s", 1000.0), ("2E-3s", 0.002), ("  2h  ", 7200.0),
        ("+3m", 180.0), ("0s", 0.0),
    ],
)  # fmt: skip
def test_duration_with_units(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "seconds"), [(90, 90.0), (1.5, 1.5), ("90", 90.0), ("2.5", 2.5), (0, 0.0)])
def test_duration_without_units_is_seconds(value: object, seconds: float) -> None:
    assert duration(value) == seconds
    assert isinstance(duration(value), float)


@pytest.mark.parametrize(
    "value",
    ["2 parsecs", "2hours", "h", "", "  ", "abc", "2h30x", "1,5h", "--2h", "inf", "nan", "1e400s",
     float("inf"), float("nan"), None, True, False, [1], {"h": 2}],
)  # fmt: skip
def test_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=REJECTED):
        duration(value)


def test_duration_unknown_unit_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown unit 'parsecs' in '2 parsecs'; use one of: .*\bh\b.*\bs\b"):
        duration("2 parsecs")


def test_duration_bad_text_gives_an_example() -> None:
    with pytest.raises(ValueError, match=r"such as '90s'.*got 'abc'"):
        duration("abc")


@given(finite)
def test_duration_hours_round_trip(x: float) -> None:
    assert duration(f"{x}h") == pytest.approx(3600 * x)


@given(finite, st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_duration_with_unit_is_the_number_times_the_unit(x: float, unit: str) -> None:
    one = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}[unit]
    assert duration(f"{x}{unit}") == pytest.approx(x * one)
    assert duration(f"{x} {unit}") == duration(f"{x}{unit}")


@given(finite)
def test_bare_number_and_its_text_agree(x: float) -> None:
    assert duration(x) == duration(repr(x)) == x


# --------------------------------------------------------------------------- rate
@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("10/h", 10 / 3600), ("1/d", 1 / 86400), ("0.5/m", 0.5 / 60), ("3/s", 3.0), ("10 / h", 10 / 3600),
        ("1/1.5h", 1 / 5400), ("6/2h", 6 / 7200), ("2/w", 2 / 604800), (3, 3.0), ("3", 3.0), (0.25, 0.25),
    ],
)  # fmt: skip
def test_rate(text: object, per_second: float) -> None:
    assert rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("value", ["10/parsec", "abc/h", "/h", "10/", "10/0h", "10/h/h", "ten per hour", None, True])
def test_rate_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=REJECTED):
        rate(value)


def test_rate_bad_text_gives_an_example() -> None:
    with pytest.raises(ValueError, match=r"such as '10/h'.*got '10/parsec'"):
        rate("10/parsec")


@given(counts, st.sampled_from([("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)]))
def test_rate_round_trip(n: int, per: tuple[str, float]) -> None:
    unit, seconds = per
    assert rate(f"{n}/{unit}") == pytest.approx(n / seconds)
    assert rate(f"{n}/{unit}") * seconds == pytest.approx(n)


# --------------------------------------------------------------------------- power, bandwidth, size
@pytest.mark.parametrize(
    ("text", "watts"),
    [("700W", 700.0), ("700 W", 700.0), ("700w", 700.0), ("1.2kW", 1200.0), ("1.2KW", 1200.0), ("2MW", 2e6),
     (700, 700.0), ("700", 700.0)],
)  # fmt: skip
def test_power(text: object, watts: float) -> None:
    assert power(text) == pytest.approx(watts)


@pytest.mark.parametrize(
    ("text", "bits_per_s"),
    [
        ("400Gbps", 4e11), ("400 Gbps", 4e11), ("400gbps", 4e11), ("400Gb/s", 4e11), ("100Mbps", 1e8),
        ("1.6Tbps", 1.6e12), ("10kbps", 1e4), ("50GB/s", 50e9 * 8), ("1TB/s", 8e12), ("1B/s", 8.0),
        (1e9, 1e9), ("1e9", 1e9),
    ],
)  # fmt: skip
def test_bandwidth(text: object, bits_per_s: float) -> None:
    assert bandwidth(text) == pytest.approx(bits_per_s)


def test_bandwidth_bytes_per_second_written_as_ps_is_not_read_as_bits() -> None:
    """`50GBps` is 50 gigabytes per second; reading it as 50 gigabits would be 8x too slow.

    Either parse it as bytes (like `50GB/s`) or reject it; never silently as bits.
    """
    try:
        value = bandwidth("50GBps")
    except ValueError:
        return
    assert value == pytest.approx(bandwidth("50GB/s"))


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("500GB", 5e11), ("500 GB", 5e11), ("500gb", 5e11), ("2TB", 2e12), ("1PB", 1e15), ("64MB", 64e6),
        ("2TiB", 2 * 2**40), ("1GiB", 2**30), ("1KiB", 1024.0), ("512B", 512.0), (100, 100.0),
    ],
)  # fmt: skip
def test_size(text: object, nbytes: float) -> None:
    assert size(text) == pytest.approx(nbytes)


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (power, "700 horsepower"), (power, "1.2 kWh"), (power, "W"), (power, None),
        (bandwidth, "400 Gbit"), (bandwidth, "fast"), (bandwidth, True),
        (size, "500 GByte"), (size, "2 TiBs"), (size, "big"), (size, [500]),
    ],
)  # fmt: skip
def test_other_quantities_reject(parse, value: object) -> None:
    with pytest.raises(ValueError, match=REJECTED):
        parse(value)


@given(finite)
def test_kilowatt_round_trip(x: float) -> None:
    assert power(f"{x}kW") == pytest.approx(1000 * x)


@given(finite)
def test_gbps_round_trip(x: float) -> None:
    assert bandwidth(f"{x}Gbps") == pytest.approx(1e9 * x)
    assert bandwidth(f"{x}GB/s") == pytest.approx(8 * 1e9 * x)


@given(finite)
def test_gib_round_trip(x: float) -> None:
    assert size(f"{x}GiB") == pytest.approx(x * 2**30)
    assert size(f"{x}GB") == pytest.approx(x * 1e9)


@pytest.mark.parametrize("parse", [duration, rate, power, bandwidth, size])
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_every_finite_bare_number_parses_to_itself(parse, x: float) -> None:
    assert parse(x) == x


@pytest.mark.parametrize("parse", [duration, rate, power, bandwidth, size])
def test_non_finite_numbers_are_rejected(parse) -> None:
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match=REJECTED):
            parse(bad)


# --------------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "90.0 s"), (750, "12.5 min"), (3 * 3600, "3.00 h"), (4 * 86400, "4.00 d"), (math.inf, "inf")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_duration_may_be_a_sum_of_units() -> None:
    """``3d4h`` is 3 days and 4 hours; a number in scientific notation with a unit stays one number."""
    assert duration("3d4h") == 3 * 86400 + 4 * 3600
    assert duration("1h30m") == 5400
    assert duration("1m30s") == 90
    assert duration("1e3h") == 1000 * 3600
    with pytest.raises(ValueError, match="got '3d4x'"):
        duration("3d4x")
    with pytest.raises(ValueError, match="each unit once, the largest first"):
        duration("1h1h")
    with pytest.raises(ValueError, match="each unit once, the largest first"):
        duration("30m1h")
