"""`prefer: fast`: the built-in placement rules try a job's fastest pools first, on hand-built states (no SimPy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from dcsim.cli import main
from dcsim.infra.cluster import Cluster
from dcsim.infra.topology import build_topology
from dcsim.policies import PLACEMENT
from dcsim.policies.placement import speed_tiers
from dcsim.scenario.schema import Datacenter

from conftest import tiny_data

RULES = ("first_fit", "best_fit", "worst_fit", "rack_pack")
SLOW_FIRST = (0.32, 1.0)  # pool 0 (listed first) an A100, pool 1 an H100


@dataclass
class JobStub:
    """The fields a placement policy reads."""

    gpus: int
    pools: tuple[int, ...] = (0, 1)
    speeds: tuple[float, ...] | None = SLOW_FIRST
    id: int = 0


def two_pools(first: str = "A100", second: str = "H100", gpus: tuple[int, int] = (8, 8)) -> Cluster:
    """Pool 0: nodes 0-1 of ``first``; pool 1: nodes 2-3 of ``second`` (one rack each)."""
    groups = [{"racks": 1, "nodes_per_rack": 2, "node": {"gpus": g, "gpu_type": t}}
              for t, g in ((first, gpus[0]), (second, gpus[1]))]  # fmt: skip
    return Cluster(build_topology(Datacenter.model_validate({"sites": [{"name": "dc1", "rack_groups": groups}]})))


def with_free(c: Cluster, free: list[int]) -> Cluster:
    for node, f in enumerate(free):
        if c.free[node] - f:
            c.allocate([(node, c.free[node] - f)])
    return c


def policy(name: str, **params):
    return PLACEMENT.create(name, params, np.random.default_rng(0))


@pytest.mark.parametrize("name", RULES)
def test_a_job_goes_to_the_fast_pool_with_prefer_fast_and_to_the_first_without(name: str) -> None:
    """Every node free, the slow pool listed first: each rule's tie goes to node 0, unless it prefers fast."""
    assert policy(name).place(JobStub(4), two_pools()) == [(0, 4)]
    assert policy(name, prefer="pool_order").place(JobStub(4), two_pools()) == [(0, 4)]
    assert policy(name, prefer="fast").place(JobStub(4), two_pools()) == [(2, 4)]


@pytest.mark.parametrize("name", RULES)
def test_a_multi_node_job_goes_to_the_fast_pool_too(name: str) -> None:
    assert policy(name).place(JobStub(16), two_pools()) == [(0, 8), (1, 8)]
    assert policy(name, prefer="fast").place(JobStub(16), two_pools()) == [(2, 8), (3, 8)]


@pytest.mark.parametrize("name", RULES)
def test_the_slow_pool_takes_the_job_when_the_fast_one_is_full(name: str) -> None:
    """H100 nodes with 2 and 0 free: a 4-GPU job goes to the A100s rather than wait."""
    c = with_free(two_pools(), [8, 8, 2, 0])
    assert policy(name, prefer="fast").place(JobStub(4), c) == [(0, 4)]


def test_best_fit_packs_into_a_slow_node_unless_it_prefers_fast() -> None:
    """H100 listed first, all free; an A100 node has exactly 3 free: best fit packs the 3-GPU job there."""
    c = with_free(two_pools("H100", "A100"), [8, 8, 3, 8])
    job = JobStub(3, speeds=(1.0, 0.32))
    assert policy("best_fit").place(job, c) == [(2, 3)]
    assert policy("best_fit", prefer="fast").place(job, c) == [(0, 3)]


def test_pools_of_equal_speed_are_judged_together_by_the_rule() -> None:
    """Speeds 0.5, 1, 0.5: the H100 pool first, then both slow pools as one group (in pool order)."""
    assert speed_tiers((0, 1, 2), (0.5, 1.0, 0.5)) == [[1], [0, 2]]
    assert speed_tiers((0, 2), (0.5, 1.0, 0.5)) == [[0, 2]]
    assert speed_tiers((0, 1), None) == [(0, 1)]
    c = with_free(two_pools("A100", "L40S"), [8, 8, 3, 8])  # equal speeds: best fit packs node 2 as without
    assert policy("best_fit", prefer="fast").place(JobStub(3, speeds=(0.32, 0.32)), c) == [(2, 3)]


@pytest.mark.parametrize("name", RULES)
def test_a_job_without_speeds_is_placed_as_in_pool_order(name: str) -> None:
    c = with_free(two_pools(), [5, 8, 8, 3])
    assert policy(name, prefer="fast").place(JobStub(3, speeds=None), c) == policy(name).place(JobStub(3), c)


@pytest.mark.parametrize("name", RULES)
def test_whether_a_job_fits_does_not_depend_on_the_order(name: str) -> None:
    """The engine's class-head backfill (uniform_in_class) needs fit to depend on pools and GPUs only:
    on random states of 8-GPU A100 and 4-GPU H100 pools, fast fits exactly when pool order fits."""
    rng = np.random.default_rng(11)
    fast, plain = policy(name, prefer="fast"), policy(name)
    for _ in range(400):
        c = two_pools(gpus=(8, 4))
        with_free(c, [int(rng.integers(0, 9)), int(rng.integers(0, 9)), int(rng.integers(0, 5)),
                      int(rng.integers(0, 5))])  # fmt: skip
        job = JobStub(int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16])), speeds=(0.32, 1.0))
        got, ref = fast.place(job, c), plain.place(job, c)
        assert (got is None) == (ref is None)
        if got is not None:
            assert sum(g for _, g in got) == job.gpus and len({n for n, _ in got}) == len(got)
            assert all(c.node_pool[n] == c.node_pool[got[0][0]] and c.free[n] >= g for n, g in got)
            fits_fast = plain.place(JobStub(job.gpus, pools=(1,)), c) is not None
            assert c.node_pool[got[0][0]] == (1 if fits_fast else 0)


@pytest.mark.parametrize("name", RULES)
def test_a_bad_prefer_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    file = tmp_path / "s.yaml"
    bad = {"placement": {"name": name, "params": {"prefer": "fastest"}}}
    file.write_text(yaml.safe_dump(tiny_data(policies=bad)))
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err
    assert "policies.placement" in err and "params.prefer" in err and "'fast'" in err and "Traceback" not in err
