"""Shared fixtures: small scenarios built as data, and a runner that returns the result."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from dcsim.experiment.run import RunResult, simulate
from dcsim.scenario.load import scenario_from_data
from dcsim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
#: The user spec files whose features are built: they must validate and run unchanged.
#: CI has shared/ beside the repo, a plain clone may not.
SPEC_BUILT = (
    "fractional.yaml", "geo.yaml", "hetero_fleet.yaml", "network_contention.yaml", "reliability.yaml", "serving.yaml",
    "tenants.yaml", "trace_replay.yaml",
)  # fmt: skip
_SPEC_ALL = sorted((SHARED / "spec").glob("*.yaml"))
SPEC_FILES = [p for p in _SPEC_ALL if p.name in SPEC_BUILT]
#: The spec files of features not built yet (and the Kubernetes scenario): until they are,
#: `dcsim validate` must refuse them cleanly, naming the fields it does not know.
SPEC_FUTURE = [p for p in _SPEC_ALL if p.name not in SPEC_BUILT]
SPEC_FUTURE += sorted((SHARED / "spec" / "k8s").glob("traffic.yaml"))


def _is_allocation(path: Path) -> bool:
    """An allocation problem for `dcsim allocate` (pools and services), not a scenario."""
    return {"pools", "services"} <= set(yaml.safe_load(path.read_text(encoding="utf-8")))


_SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
#: Shipped simulation scenarios, and allocation problems (`dcsim allocate`), in scenarios/.
SHIPPED_SCENARIOS = [p for p in _SHIPPED if not _is_allocation(p)]
ALLOCATION_FILES = [p for p in _SHIPPED if _is_allocation(p)]


def tiny_data(**top: Any) -> dict[str, Any]:
    """A small valid scenario as raw data: 1 site, 2 racks x 2 nodes x 8 GPUs, 1-GPU fixed jobs.

    Keyword arguments replace top-level keys (``workload=...``, ``horizon=...``).
    """
    data: dict[str, Any] = {
        "name": "tiny",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": 2, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        "workload": {
            "jobs": [
                {
                    "name": "j",
                    "arrival": {"process": "periodic", "interval": "1h"},
                    "count": 4,
                    "gpus": 1,
                    "duration": "30m",
                }
            ]
        },
    }
    data.update(copy.deepcopy(top))
    return data


def elastic_tenant_class(name: str, at: float, tenant: str = "t") -> dict[str, Any]:
    """One elastic job of ``tenant`` (4 GPUs nominal, 8 h, 2 to 16 GPUs, linear) submitted at ``at`` s."""
    return {"name": name, "tenant": tenant, "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": 4,
            "duration": "8h", "elastic": {"min_gpus": 2, "max_gpus": 16, "speedup": "linear"}}  # fmt: skip


def two_nodes_elastic(jobs: list[dict[str, Any]], tenants: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """``jobs`` and ``tenants`` on 2 nodes of 8 GPUs under the elastic scheduler (a tiny scenario's data)."""
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": jobs}, policies={"scheduler": "elastic"}, tenants=tenants, **top,
    )  # fmt: skip


def poisson_file(
    tmp_path: Path,
    horizon: str = "2d",
    rate: str = "6/h",
    gpus: Any = None,
    mean: str = "2h",
    file: str = "s.yaml",
    **top: Any,
) -> Path:
    """``tmp_path/<file>``: the tiny data center under Poisson jobs (by default of 1 to 8 GPUs) with
    exponential run times (by default of mean 2 h)."""
    gpus = {"values": [1, 2, 4, 8]} if gpus is None else gpus
    data = tiny_data(
        horizon=horizon,
        workload={"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": rate},
                            "gpus": gpus, "duration": {"dist": "exponential", "mean": mean}}]},
        **top,
    )  # fmt: skip
    path = tmp_path / file
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def build(data: dict[str, Any], base_dir: str = ".") -> Scenario:
    """Validate raw scenario data (raises ScenarioError listing every problem)."""
    return scenario_from_data(data, base_dir)


def run_data(data: dict[str, Any], seed: int | None = None, base_dir: str = ".") -> RunResult:
    """Validate and simulate raw scenario data."""
    return simulate(build(data, base_dir), seed)


@pytest.fixture
def tiny() -> dict[str, Any]:
    """Raw data of the tiny scenario (mutable copy per test)."""
    return tiny_data()


def assert_heads_equal_a_scan(data: dict, queued: int = 20) -> None:
    """Run ``data`` twice, with the class-head pass and with a scan of the whole queue; the jobs tables are equal."""
    import pandas as pd

    from dcsim.engine import DataCenterModel
    from dcsim.metrics.tables import jobs_table

    sc = build(data)
    fast, slow = DataCenterModel(sc), DataCenterModel(sc)
    assert fast.dispatch.scheduler.class_heads
    slow.dispatch.scheduler.class_heads = False  # the reference: the plain rule, a scan of the whole queue
    fast.run()
    slow.run()
    a = jobs_table(fast.collector, fast.topology).to_pandas()
    b = jobs_table(slow.collector, slow.topology).to_pandas()
    assert len(fast.queue) > queued  # the queue was long enough for the order to matter
    pd.testing.assert_frame_equal(a, b)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Keep the figures that plotting code closes, to look at them: a callable returning the open figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a: None)
    yield lambda: [plt.figure(n) for n in plt.get_fignums()]
    monkeypatch.undo()
    plt.close("all")


def load_bench(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` (the bench scripts are not a package) as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
