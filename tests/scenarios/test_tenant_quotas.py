"""scenarios/tenant_quotas.yaml answers its question: borrowing cuts the borrower's waits, not the lender's.

The same five seeds with borrowing_limit 0 and 32 (paired: common random numbers). The
borrower's mean wait falls by more than 2 standard errors of the paired difference; the
lender's (who reclaims its quota when it needs it) moves by less than 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcsim.experiment.run import simulate
from dcsim.scenario.load import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "tenant_quotas.yaml"
SEEDS = range(7, 12)


def _waits(limit: int) -> tuple[np.ndarray, np.ndarray, float]:
    sc = load_scenario(str(SCENARIO), overrides=[f"tenants.0.borrowing_limit.gpus={limit}"])
    runs = [simulate(sc, seed).summary["tenants"] for seed in SEEDS]
    training = np.array([r["training"]["mean_wait_s"] for r in runs])
    dev = np.array([r["inference-dev"]["mean_wait_s"] for r in runs])
    return training, dev, sum(r["training"]["borrowed_gpu_hours"] for r in runs)


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(x.size))


def test_borrowing_cuts_the_borrowers_waits_without_starving_the_lender() -> None:
    held_training, held_dev, held_borrowed = _waits(0)
    lent_training, lent_dev, borrowed = _waits(32)
    assert held_borrowed == 0.0 and borrowed > 0.0
    fall = held_training - lent_training
    assert fall.mean() > 2 * _se(fall)
    change = lent_dev - held_dev
    assert abs(change.mean()) <= 3 * _se(change)
