"""dcsim validate reports schema problems and whole-scenario problems in one go."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dcsim.cli import main

from conftest import tiny_data


def validate_with(override: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`dcsim validate` of the tiny scenario with one --set; asserts exit 2 and returns stderr."""
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(tiny_data()))
    assert main(["validate", str(file), "--set", override]) == 2
    return capsys.readouterr().err


def test_schema_and_cross_block_problems_come_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative rate (schema), a job too big for the cluster and a missing price (whole scenario): all three."""
    data = tiny_data(costs={"gpu_hour_usd": {"A100": 2.0}})
    data["workload"]["jobs"][0]["arrival"] = {"process": "poisson", "rate": "-3/h"}
    data["workload"]["jobs"].append(
        {"name": "big", "arrival": {"process": "batch"}, "count": 1, "gpus": 64, "duration": "1h"}
    )
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    for where in ("workload.jobs.0.arrival.rate", "workload.jobs.1.gpus", "costs.gpu_hour_usd"):
        assert f"  {where}:" in err, (where, err)


@pytest.mark.parametrize(
    ("override", "path", "hint"),
    [
        ("workload.jobs.0.prio=2", "workload.jobs.0.prio", "did you mean `priority`"),
        ("datacenter.sites.0.nodes_per_rak=2", "datacenter.sites.0.nodes_per_rak", "did you mean `nodes_per_rack`"),
        ("workload.jobs.0.duration={dist: lognormal, sigma: 1}", "workload.jobs.0.duration", "one of `median`"),
        ("costs.gpu_hour_usd=cheap", "costs.gpu_hour_usd", "a price in USD"),
    ],
)
def test_messages_name_the_users_path_and_suggest_a_fix(
    override: str, path: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No union tags (`lognormal`) in paths; close field names suggested for typos."""
    err = validate_with(override, tmp_path, capsys)
    assert f"  {path}: " in err and hint in err, err


def test_a_price_may_be_written_with_a_dollar_sign(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(tiny_data()))
    assert main(["validate", str(file), "--set", "costs.gpu_hour_usd=$2.10"]) == 0


@pytest.mark.parametrize(
    ("override", "expected"),
    [("workload.jobs.0.gpu=8", "`gpus`"), ("costs.pu=1.2", "`pue`"), ("policies.scheduler.parms={}", "`params`")],
)
def test_suggestions_come_from_the_block_of_the_typo(
    override: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the block of the typo, never the rejected key itself (`gpu` here is a typo for `gpus`)."""
    assert f"did you mean {expected}" in validate_with(override, tmp_path, capsys)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("workload.jobs.0.arrival={process: poisson, rate: 2h}", "a rate such as '10/h'"),
        ("workload.jobs.0.gpus=8.5", "a whole number of GPUs"),
        ("workload.jobs.0.arrival.process=poison", "did you mean 'poisson'"),
    ],
)
def test_wrong_kinds_of_value_get_a_fix(
    override: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in validate_with(override, tmp_path, capsys)


def test_a_misspelt_horizon_is_the_only_problem_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not also 'no count and no horizon' for every class: the typo may be the horizon."""
    data = tiny_data()
    data["horizn"] = "14d"
    data["workload"]["jobs"][0]["count"] = None
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(data))
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err
    assert "1 problem" in err and "did you mean `horizon`" in err
