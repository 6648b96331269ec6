"""Step functions: values, overlays and integrals checked by hand."""

import math

import numpy as np
import pytest

from dcsim.core.series import Steps, union_edges


def test_value_holds_from_each_change_point():
    s = Steps([0.0, 3600.0, 7200.0], [1.0, 2.0, 4.0])
    assert [s.at(t) for t in (-5.0, 0.0, 3599.0, 3600.0, 7199.0, 1e9)] == [1.0, 1.0, 1.0, 2.0, 2.0, 4.0]
    assert s.next_change(0.0) == 3600.0 and s.next_change(7200.0) == math.inf


def test_integral_by_hand():
    s = Steps([0.0, 3600.0, 7200.0], [1.0, 2.0, 4.0])
    # 1800 s at 1, 3600 s at 2, 1800 s at 4
    assert s.integral(1800.0, 9000.0) == pytest.approx(1800 + 7200 + 7200)
    assert s.mean(0.0, 7200.0) == pytest.approx(1.5)
    assert s.integral(5.0, 5.0) == 0.0


def test_overlay_for_a_while_and_for_good():
    s = Steps([0.0, 3600.0, 7200.0], [1.0, 2.0, 4.0])
    o = s.overlay(1800.0, 5400.0, 10.0)
    assert [o.at(t) for t in (0.0, 1800.0, 3600.0, 5399.0, 5400.0, 7200.0)] == [1, 10, 10, 10, 2, 4]
    forever = s.overlay(5400.0, math.inf, 0.5)
    assert [forever.at(t) for t in (0.0, 3600.0, 5400.0, 1e7)] == [1, 2, 0.5, 0.5]
    assert s.overlay(10.0, 10.0, 9.0) is s


def test_periodic_repeats_the_file():
    s = Steps.periodic([0.0, 3600.0], [1.0, 3.0], 7200.0, until=20000.0)
    assert [s.at(t) for t in (0.0, 3600.0, 7200.0, 10800.0, 18000.0)] == [1, 3, 1, 3, 3]
    assert s.integral(0.0, 14400.0) == pytest.approx(2 * (3600 + 3 * 3600))
    # Unrolled up to and including ``until``: at a whole number of periods the file starts again.
    assert Steps.periodic([0.0, 3600.0], [1.0, 3.0], 7200.0, until=14400.0).at(14400.0) == 1


def test_union_edges_and_bin_values():
    a = Steps([0.0, 10.0], [1.0, 2.0])
    b = Steps([0.0, 5.0, 10.0, 15.0], [0.0, 1.0, 2.0, 3.0])
    edges = union_edges(0.0, 12.0, [a, b])
    assert edges.tolist() == [0.0, 5.0, 10.0, 12.0]
    assert b.bin_values(edges).tolist() == [0.0, 1.0, 2.0]
    assert np.array_equal(a.bin_values(edges), [1.0, 1.0, 2.0])


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="ascend"):
        Steps([0.0, 0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        Steps([], [])
