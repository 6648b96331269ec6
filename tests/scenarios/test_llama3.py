"""scenarios/llama3_54d.yaml against the figure it was built from: 419 unexpected interruptions in 54 days."""

from __future__ import annotations

import math

import pytest

from dcsim.experiment.run import simulate
from dcsim.scenario.load import load_scenario

from conftest import ROOT

TABLE5 = {  # Llama 3 Herd of Models, Table 5: interruptions in 54 days, by root cause
    "faulty_gpu": 148, "gpu_hbm3_memory": 72, "software_bug": 54, "network_switch_cable": 35,
    "host_maintenance": 32, "gpu_sram_memory": 19, "gpu_system_processor": 17, "nic": 7,
    "nccl_watchdog_timeout": 7, "silent_data_corruption": 6, "gpu_thermal_interface_sensor": 6, "ssd": 3,
    "power_supply": 3, "server_chassis": 2, "io_expansion_board": 2, "dependency": 2, "cpu": 2, "system_memory": 2,
}  # fmt: skip


@pytest.mark.statistical
def test_llama3_interruptions_land_near_419_and_young_daly_beats_1h() -> None:
    path = str(ROOT / "scenarios" / "llama3_54d.yaml")
    hourly = simulate(load_scenario(path))
    daly = simulate(load_scenario(path, ["workload.jobs.0.checkpoint.interval=young_daly"]))
    f = hourly.summary["faults"]
    # The scenario's rates are Table 5's counts over 54 days, so the job's interruptions
    # are Poisson with mean 419 (the job runs, restart included, the whole time).
    expected = sum(TABLE5.values())
    assert expected == 419
    assert abs(f["job_interruptions"] - expected) <= 4 * math.sqrt(expected)
    assert set(f["by_cause"]) == set(TABLE5)
    gpu_share = sum(f["by_cause"][c]["interruptions"] for c in TABLE5 if c.startswith(("gpu", "faulty", "silent")))
    assert abs(gpu_share / f["job_interruptions"] - 268 / 419) < 4 * math.sqrt(0.64 * 0.36 / 419)
    # Same failures (common random numbers): a ~14 min interval loses less than 1 h.
    assert daly.summary["faults"]["failures"] == f["failures"]
    assert daly.summary["faults"]["ettr"] > f["ettr"]
    assert daly.summary["faults"]["ettr"] > 0.85
