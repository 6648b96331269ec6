"""scenarios/baselines_philly.yaml answers its question, on 10 of its 14 days and four paired seeds.

Strict fifo on Philly-like run times at 96 % offered load lets large head jobs block the
small ones behind them; EASY backfill removes that, so its mean JCT is below fifo's by more
than 2 standard errors of the paired difference. SRTF and Tiresias, which preempt (a
checkpoint on the way out), are at least as good as EASY within 3 SE, and they are the only
ones that preempt. (The elastic scheduler is left out here: its runs are the slowest, and its
own tests are in tests/engine/test_elastic.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcsim.experiment.run import simulate
from dcsim.scenario.load import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "baselines_philly.yaml"
SEEDS = range(7, 11)


def _jobs(scheduler: str) -> list[dict]:
    sc = load_scenario(str(SCENARIO), [f"policies.scheduler={scheduler}", "horizon=10d", "warmup=2d"])
    return [simulate(sc, seed).summary["jobs"] for seed in SEEDS]


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(x.size))


def test_backfill_and_preemptive_schedulers_cut_jct_against_fifo() -> None:
    runs = {s: _jobs(s) for s in ("fifo", "easy_backfill", "srtf", "tiresias")}
    jct = {s: np.array([r["mean_jct_s"] for r in rs]) for s, rs in runs.items()}
    fall = jct["fifo"] - jct["easy_backfill"]
    assert fall.mean() > 2 * _se(fall)
    for s in ("srtf", "tiresias"):
        gain = jct["easy_backfill"] - jct[s]
        assert gain.mean() > -3 * _se(gain), s
        assert sum(r["preemptions"] for r in runs[s]) > 0
    assert sum(r["preemptions"] for s in ("fifo", "easy_backfill") for r in runs[s]) == 0
