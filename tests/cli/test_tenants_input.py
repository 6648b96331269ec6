"""Bad tenants, preemption and fairness input: exit 2, one message naming the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main

from conftest import tiny_data

PYTHON_WORDING = ("Traceback", "Input should be", "validation error for", "Value error,", "[type=", "pydantic")


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], **top: Any) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_data(**top)), encoding="utf-8")
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


def _jobs(tenant: str, gpus: int = 1) -> dict:
    job = {"name": "j", "tenant": tenant, "arrival": {"process": "periodic", "interval": "1h"}, "count": 2,
           "gpus": gpus, "duration": "30m"}  # fmt: skip
    return {"jobs": [job]}


@pytest.mark.parametrize(
    ("top", "path", "words"),
    [
        ({"tenants": [{"name": "a", "quota": {"gpus": 8}}], "workload": _jobs("b")},
         "workload.jobs.0.tenant", "the tenants are a"),
        ({"tenants": [{"name": "a", "quota": {"gpus": 8}, "borrowing_limit": {"gpus": 4}}], "workload": _jobs("a")},
         "tenants.0.borrowing_limit", "give it a `cohort`"),
        ({"tenants": [{"name": "a", "quota": {"gpus": 4}}], "workload": _jobs("a", 8)},
         "workload.jobs.0.gpus", "8 GPUs > the most tenant 'a' may ever hold (4"),
        ({"policies": {"fairness": "drf"}}, "policies.fairness", "declare them in a `tenants` block"),
        ({"preemption": {"reclaim_within_cohort": "any"}}, "preemption.reclaim_within_cohort", "`tenants` block"),
        ({"tenants": [{"name": "a", "quota": {"gpus": {"B200": 8}}}], "workload": _jobs("a")},
         "tenants.0.quota.gpus", "no GPUs of type B200"),
    ],
)  # fmt: skip
def test_bad_tenant_input_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], top: dict, path: str, words: str
) -> None:
    code, err = _run(tmp_path, capsys, **top)
    assert code == 2, err
    assert f"  {path}: " in err and words in err, err
    assert err.count("error:") == 1 and not [w for w in PYTHON_WORDING if w in err], err
