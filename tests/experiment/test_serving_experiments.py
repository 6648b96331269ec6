"""Experiments on services (issue 13 point 8): compare a service's policies, sweep them, plan its fleet.

The service: Poisson requests at 3/s, exponential run times of mean 1 s, concurrency 1, so n replicas
under random routing are n M/M/1 queues at 3/n each: unstable below 4 replicas, mean latency
1 / (1 - 3/n) s above (4: 4 s, 5: 2.5 s, 6: 2 s, 8: 1.6 s).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from dcsim.cli import main


def service_file(tmp_path: Path, balancer: str = "random", replicas: int = 6) -> Path:
    data = {
        "name": "svc", "seed": 3, "horizon": "4h", "warmup": "20m",
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 8, "node": {"gpus": 1}}]},
        "services": [{
            "name": "api", "gpus_per_replica": 1, "replicas": {"min": 1, "max": 8, "initial": replicas},
            "requests": {"arrival": {"process": "poisson", "rate": "3/s"}},
            "service_model": {"time": {"dist": "exponential", "mean": "1s"}}, "load_balancer": balancer,
        }],
    }  # fmt: skip
    path = tmp_path / "svc.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_compare_switches_every_services_balancer(tmp_path: Path) -> None:
    """round_robin against random on 6 replicas: E_6/M/1 waits less than M/M/1 at the same load, on every seed."""
    path = service_file(tmp_path)
    assert main(["compare", str(path), "--policy", "load_balancer=random,round_robin", "--seeds", "2",
                 "--out", str(tmp_path / "c.csv")]) == 0  # fmt: skip
    table = pd.read_csv(tmp_path / "c.csv")
    assert sorted(set(table["variant"])) == ["random", "round_robin"]
    lat = table.pivot(index="seed", columns="variant", values="services.mean_latency_s")
    assert (lat["round_robin"] < lat["random"]).all()
    assert (abs(lat["random"] / (1 / (1 - 0.5)) - 1) < 0.25).all()  # M/M/1 at 0.5: 2 s


def test_sweep_takes_a_services_policy_axis(tmp_path: Path) -> None:
    path = service_file(tmp_path)
    assert main(["sweep", str(path), "--policy", "load_balancer=random,power_of_two", "--replications", "2",
                 "--workers", "1", "--out", str(tmp_path / "s")]) == 0  # fmt: skip
    runs = pd.read_parquet(tmp_path / "s" / "runs.parquet")
    assert len(runs) == 4 and runs["services.mean_latency_s"].notna().all()


def test_a_policy_axis_needs_services(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import poisson_file

    path = poisson_file(tmp_path, gpus=1, mean="1h")
    assert main(["compare", str(path), "--policy", "autoscaler=none,hpa", "--seeds", "1"]) == 2
    assert "no `services`" in capsys.readouterr().err


def test_plan_finds_the_smallest_fleet_for_a_latency_target(tmp_path: Path) -> None:
    """Mean latency <= 2.4 s under random routing: 5 replicas give 2.5 s, 6 give 2 s, so the answer is 6."""
    path = service_file(tmp_path, replicas=4)
    code = main(["plan", str(path), "--vary", "services.0.replicas.initial", "--min", "4", "--max", "8",
                 "--target", "services.mean_latency_s<=2.4s", "--replications", "2", "--workers", "1",
                 "--out", str(tmp_path / "p")])  # fmt: skip
    assert code == 0
    tried = pd.read_csv(next((tmp_path / "p").rglob("plan.csv")))
    met = tried[tried["met"]]
    assert int(met["value"].min()) == 6
