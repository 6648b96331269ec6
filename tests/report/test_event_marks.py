"""The timed events on the plots' time axis: a shaded span per event with an end, a line per event without."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dcsim.report.event_marks import mark_events

from conftest import build, tiny_data


def test_events_are_spans_and_lines_at_their_times_labelled_by_number() -> None:
    """Event 0 fails the site over [2 h, 4 h): a span; event 1 adds a rack at 5 h: a line; axis in hours."""
    data = tiny_data(horizon="10h")
    data["events"] = [{"at": "2h", "for": "2h", "fail": {"site": "dc1"}},
                      {"at": "5h", "add_racks": {"site": "dc1", "racks": 1}}]  # fmt: skip
    sc = build(data)
    fig, ax = plt.subplots()
    mark_events(ax, sc, 3600.0)
    (span,) = ax.patches
    x0, width = span.get_x(), span.get_width()  # axvspan: a rectangle in data x, axes y
    assert (x0, x0 + width) == (2.0, 4.0)
    (line,) = ax.lines
    assert list(line.get_xdata()) == [5.0, 5.0]
    assert [t.get_text().strip() for t in ax.texts] == ["0", "1"]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["a unit failed", "racks added"]
    plt.close(fig)


def test_a_scenario_without_events_draws_nothing() -> None:
    fig, ax = plt.subplots()
    mark_events(ax, build(tiny_data(horizon="10h")), 3600.0)
    assert not ax.patches and not ax.lines and not ax.texts
    plt.close(fig)
