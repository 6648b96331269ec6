"""``--set path=value`` overrides on raw scenario data, before validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dcsim.core.errors import DcsimError, OverrideError
from dcsim.scenario.overrides import apply_overrides, parse_override

from conftest import build, tiny_data


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("horizon=2d", ["horizon"], "2d"),
        ("seed=3", ["seed"], 3),
        ("costs.pue=1.5", ["costs", "pue"], 1.5),
        ("workload.jobs.0.duration.mean=2h", ["workload", "jobs", "0", "duration", "mean"], "2h"),
        ("x=[1, 2]", ["x"], [1, 2]),
        ("x={a: 1}", ["x"], {"a": 1}),
        ("x=true", ["x"], True),
        ("x=null", ["x"], None),
        ("x=", ["x"], ""),
        (" horizon =2d", ["horizon"], "2d"),
        ("name=a=b", ["name"], "a=b"),  # only the first '=' splits
        ("arrival.rate=10/h", ["arrival", "rate"], "10/h"),
    ],
)
def test_parse_override(text: str, path: list[str], value: Any) -> None:
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["horizon", "", "=2d", "  =2d", "horizon=[1", "x={a: 1"])
def test_parse_override_rejects(text: str) -> None:
    with pytest.raises(OverrideError, match="--set"):
        parse_override(text)


def test_override_error_is_user_error() -> None:
    """The CLI turns DcsimError into exit status 2; OverrideError must be one."""
    assert issubclass(OverrideError, DcsimError)


def test_missing_equals_shows_the_form() -> None:
    with pytest.raises(OverrideError, match=r"--set 'horizon': write it as path=value, e.g. --set horizon=7d"):
        parse_override("horizon")


# --------------------------------------------------------------------------- applying
def test_sets_a_top_level_field() -> None:
    assert apply_overrides(tiny_data(), ["horizon=2d"])["horizon"] == "2d"


def test_steps_into_lists_by_index() -> None:
    data = tiny_data()
    data["workload"]["jobs"][0]["duration"] = {"dist": "exponential", "mean": "30m"}
    out = apply_overrides(data, ["workload.jobs.0.duration.mean=2h"])
    assert out["workload"]["jobs"][0]["duration"] == {"dist": "exponential", "mean": "2h"}


def test_negative_index_counts_from_the_end() -> None:
    data = tiny_data()
    data["workload"]["jobs"].append({**data["workload"]["jobs"][0], "name": "k"})
    out = apply_overrides(data, ["workload.jobs.-1.gpus=4"])
    assert [j["gpus"] for j in out["workload"]["jobs"]] == [1, 4]


def test_replaces_a_whole_list_element() -> None:
    out = apply_overrides({"a": [1, 2, 3]}, ["a.1=x"])
    assert out == {"a": [1, "x", 3]}


def test_creates_missing_mappings() -> None:
    out = apply_overrides(tiny_data(), ["policies.scheduler.params.backfill=true"])
    assert out["policies"] == {"scheduler": {"params": {"backfill": True}}}


def test_later_overrides_win() -> None:
    assert apply_overrides({}, ["seed=1", "seed=2"]) == {"seed": 2}


def test_later_override_can_step_into_an_earlier_one() -> None:
    out = apply_overrides({}, ["costs={pue: 1.2}", "costs.pue=1.4"])
    assert out == {"costs": {"pue": 1.4}}


def test_does_not_change_its_input() -> None:
    data = tiny_data()
    before = copy.deepcopy(data)
    apply_overrides(data, ["horizon=2d", "workload.jobs.0.gpus=8", "datacenter.sites.0.racks=1"])
    assert data == before


def test_no_overrides_is_an_equal_copy() -> None:
    data = tiny_data()
    out = apply_overrides(data, [])
    assert out == data and out is not data


def test_overridden_scenario_validates_with_the_new_values() -> None:
    data = apply_overrides(
        tiny_data(), ["horizon=2d", "warmup=1h", "workload.jobs.0.duration=45m", "datacenter.sites.0.racks=3"]
    )
    sc = build(data)
    assert sc.horizon == 2 * 86400
    assert sc.warmup == 3600
    assert sc.workload.jobs[0].duration.value == 45 * 60
    assert sc.datacenter.sites[0].racks == 3


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("workload.jobs.1.gpus=2", ["workload.jobs.1", "out of range", "the list has 1 entry"]),
        ("workload.jobs.-2.gpus=2", ["workload.jobs.-2", "out of range"]),
        ("workload.jobs.first.gpus=2", ["workload.jobs.first", "indexes a list", "number"]),
        ("name.x=1", ["name", "is a value", "'tiny'"]),
        ("seed.0=1", ["seed", "is a value"]),
        ("workload.jobs.0.gpus.n=1", ["workload.jobs.0.gpus", "is a value"]),
    ],
)
def test_paths_that_do_not_apply(override: str, words: list[str]) -> None:
    with pytest.raises(OverrideError) as exc:
        apply_overrides(tiny_data(), [override])
    message = str(exc.value)
    assert message.startswith(f"--set {override!r}: ")
    for word in words:
        assert word in message, (word, message)


def test_first_bad_override_stops_with_its_own_text() -> None:
    with pytest.raises(OverrideError, match=r"--set 'bad'"):
        apply_overrides(tiny_data(), ["horizon=2d", "bad", "seed=3"])


# --------------------------------------------------------------------------- properties
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
scalars = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/", min_size=1, max_size=8),
)


@given(st.lists(keys, min_size=1, max_size=4), scalars)
def test_any_value_written_as_yaml_round_trips(path: list[str], value: Any) -> None:
    """``--set a.b.c=<yaml of v>`` puts exactly ``v`` at a.b.c, creating the mappings on the way."""
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    out = apply_overrides({}, [f"{'.'.join(path)}={text}"])
    node: Any = out
    for key in path:
        node = node[key]
    assert node == value


@given(st.lists(st.integers(), min_size=1, max_size=6), st.data())
def test_every_index_in_range_sets_that_element_only(items: list[int], data: st.DataObject) -> None:
    n = len(items)
    index = data.draw(st.integers(min_value=-n, max_value=n - 1))
    out = apply_overrides({"a": items}, [f"a.{index}=x"])
    expected = list(items)
    expected[index] = "x"
    assert out == {"a": expected}


@given(st.lists(st.integers(), max_size=6), st.data())
def test_every_index_out_of_range_is_an_error(items: list[int], data: st.DataObject) -> None:
    n = len(items)
    index = data.draw(st.one_of(st.integers(min_value=n, max_value=n + 100), st.integers(max_value=-n - 1)))
    with pytest.raises(OverrideError, match="out of range"):
        apply_overrides({"a": items}, [f"a.{index}=x"])
