"""Plots a planner reads: `dcsim plot` in words and units, and failures.png with hundreds of failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from dcsim.cli import main
from dcsim.experiment.compare import parse_axis
from dcsim.experiment.sweep import execute, plan, points_table, runs_table, write_tables
from dcsim.metrics.scoring import flatten

from conftest import poisson_file, run_data, tiny_data


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep over racks 1, 2 (2 seeds) of a queue of 8-GPU jobs: waits that differ a lot between seeds."""
    tmp = tmp_path_factory.mktemp("sweep")
    path = poisson_file(tmp, rate="5/h", gpus=8, mean="1h")
    axes = [parse_axis("datacenter.sites.0.racks=1,2", policy=False)]
    tasks = plan(str(path), axes, 2)
    runs = runs_table(tasks, execute(tasks, str(tmp / "s"), workers=1), axes)
    write_tables(str(tmp / "s"), runs, points_table(runs, axes))
    return tmp / "s"


def test_file_names_name_the_axis_and_all_zero_metrics_are_skipped(
    sweep_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    names = {p.name for p in (sweep_dir / "plots").iterdir()}
    assert {"jobs.p95_wait_s-vs-racks.png", "utilization.gpu_allocated-vs-racks.png"} <= names
    assert "faults.failures-vs-racks.png" not in names  # nothing fails in this scenario
    skipped = out.split("not drawn, zero at every point:")[1].split("\n")[0]
    assert "faults.failures" in skipped and "faults.lost_gpu_hours" in skipped and "jobs.p95_wait_s" not in skipped


def test_axes_are_words_with_units_bands_stop_at_zero_counts_are_integers(sweep_dir: Path, figures: Any) -> None:
    from dcsim.experiment.plan import parse_target
    from dcsim.report.sweep_plots import plot_sweep

    points = pd.read_parquet(sweep_dir / "points.parquet")
    wait = points[points["metric"] == "jobs.mean_wait_s"]
    assert (wait["ci_low"] < 0).any()  # the t interval reaches below 0: there is something to clip
    target = parse_target("jobs.mean_wait_s<=1h")
    drawn = plot_sweep(str(sweep_dir), ["jobs.mean_wait_s", "jobs.completed", "utilization.gpu_allocated"], None,
                       target)  # fmt: skip
    names = ["jobs.mean_wait_s-vs-racks.png", "jobs.completed-vs-racks.png", "utilization.gpu_allocated-vs-racks.png"]
    assert [Path(p).name for p in drawn.written] == names
    by_label = {fig.axes[0].get_ylabel(): fig.axes[0] for fig in figures()}
    wait_ax = next(ax for label, ax in by_label.items() if label.startswith("mean wait ("))
    unit = wait_ax.get_ylabel()[len("mean wait (") : -1].split(",")[0]  # "hours" or "hours, log scale above ..."
    assert unit in ("seconds", "minutes", "hours", "days")
    scale = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[unit]
    band_low = min(float(p.vertices[:, 1].min()) for c in wait_ax.collections for p in c.get_paths())
    assert band_low == pytest.approx(0.0, abs=1e-12)  # clipped at 0, not below
    target_line = next(line for line in wait_ax.lines if line.get_label().startswith("target:"))
    assert target_line.get_ydata()[0] == pytest.approx(3600 / scale)
    assert wait_ax.get_xlabel() == "racks (datacenter.sites.0.racks)"
    assert "mean wait against racks" in wait_ax.get_title()
    assert "GPU utilization (allocated, %)" in by_label
    share = by_label["GPU utilization (allocated, %)"]
    assert max(float(y) for line in share.lines for y in line.get_ydata()) > 1  # percent, not a share
    count = by_label["jobs completed"]
    assert all(float(t) == int(t) for t in count.get_yticks()) and all(float(t) == int(t) for t in count.get_xticks())


def test_a_misspelled_metric_or_target_is_refused_with_a_suggestion(
    sweep_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, flag in (
        (["--metric", "jobs.mean_wiat_s"], "--metric"),
        (["--target", "jobs.mean_wiat_s<=1h"], "--target"),
    ):
        assert main(["plot", str(sweep_dir), *args]) == 2
        err = capsys.readouterr().err
        assert flag in err and "did you mean 'jobs.mean_wait_s'" in err and "Traceback" not in err


def test_every_metric_of_a_run_summary_is_a_known_name() -> None:
    """The names list in dcsim/metrics/names.py covers a run with failures, maintenance and the lp scheduler."""
    from dcsim.metrics.names import is_metric

    data = tiny_data(horizon="1d", policies={"scheduler": "lp"}, failures={"node": {"mtbf": "50h"}},
                     repair={"technicians": 1, "time": "4h"},
                     maintenance=[{"start": "5h", "duration": "1h", "scope": "rack"}])  # fmt: skip
    names = [k for k, v in flatten(run_data(data).summary).items() if not k.startswith("run.") and k != "notes"]
    assert "scheduler.epochs" in names and "faults.by_component.node.failures" in names
    assert "faults.mean_wait_technician_s" in names
    assert [n for n in names if not is_metric(n)] == []


def failing(gpu_mtbf: str) -> dict[str, Any]:
    """Four nodes of 8 GPUs for 20 days, GPU failures at ``gpu_mtbf`` and rolling rack maintenance that evicts."""
    return tiny_data(
        horizon="20d", warmup="1d",
        workload={"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": "2/h"}, "gpus": 4,
                            "duration": {"dist": "exponential", "mean": "3h"}}]},
        failures={"gpu": {"mtbf": gpu_mtbf}, "node": {"mtbf": "800h"}},
        repair={"technicians": 2, "reboot": {"share": 0.5, "time": "10m"}, "time": "4h"},
        maintenance=[{"start": "5d", "duration": "12h", "scope": "rack", "every": "10d", "drain": "evict"}],
    )  # fmt: skip


def _artists(fig: Any) -> int:
    return sum(len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.texts) for ax in fig.axes)


def test_failures_plot_aggregates_hundreds_of_failures_and_labels_maintenance(tmp_path: Path) -> None:
    from dcsim.report.plots import failures_figure, plot_run

    few, many = run_data(failing("2000h")), run_data(failing("30h"))
    assert len(few.failures) < 40 and len(many.failures) > 300
    shapes = []
    for result in (few, many):
        fig = failures_figure(result, plt)
        shapes.append(_artists(fig))
        labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert any(label.startswith("planned maintenance (") and "job eviction" in label for label in labels)
        assert any(label.startswith("gpu: ") for label in labels)
        plt.close(fig)
    assert shapes[0] == shapes[1]  # as many shapes for 300+ failures as for a few dozen
    paths = plot_run(many, str(tmp_path))
    assert (tmp_path / "failures.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(paths) == 4


def test_gpus_out_of_service_add_up_to_the_runs_count() -> None:
    """The split by cause (failures of each class, maintenance) sums to the run's GPUs out of service."""
    import numpy as np

    from dcsim.report.plots import down_by_cause

    result = run_data(failing("30h"))
    times, by, maintenance = down_by_cause(result)
    stacked = sum(by.values()) + maintenance
    d = result.down
    at = np.searchsorted(d["time_s"].to_numpy(), times, side="right") - 1
    exact = np.where(at >= 0, d["gpus"].to_numpy()[np.clip(at, 0, None)], 0)
    assert np.allclose(stacked, exact) and maintenance.max() >= 16  # a rack of 16 GPUs in maintenance


def test_failures_plot_says_after_warm_up_only_with_one() -> None:
    from dcsim.report.plots import failures_figure

    for warmup, said in (("1d", True), ("0s", False)):
        data = failing("300h")
        data["warmup"] = warmup
        fig = failures_figure(run_data(data), plt)
        texts = [ax.get_title() for ax in fig.axes] + [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any("warm-up" in t for t in texts) == said, texts
        plt.close(fig)
