"""The network engineer's plots: link utilization per tier over time, and the busiest links.

Checked on the hand-computed case of tests/engine/test_network.py (two rings across two racks
sharing every uplink bundle: the uplinks' shares full, the NICs' half), not by pixels: the files
are written, and the drawn data are the run's columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from conftest import run_data, tiny_data

RING_1GB = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}
PNG = b"\x89PNG\r\n\x1a\n"
#: The share of the 2 h window the jobs run: 1 h at a slowdown of 1.16 / 1.08 (see test_network.py).
RUNNING = 1.16 / 1.08 / 2
#: While they run, a job's step of 1.16 s moves 8e9 bits per hop: each NIC link carries one job's
#: 8/1.16 Gb/s (of its 50 Gb/s share), each uplink bundle two jobs' 16/1.16 Gb/s.
NIC_GBPS, UP_GBPS = 8 / 1.16, 16 / 1.16


def shared_uplinks(communication: dict[str, Any] | None = RING_1GB) -> dict[str, Any]:
    """Two racks of 2 nodes, 100 Gb/s NICs at 2:1; two 16-GPU jobs, each with a node in each rack, 1 h."""
    cls: dict[str, Any] = {"name": "train", "arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 16,
                           "duration": {"dist": "fixed", "value": "1h"}}  # fmt: skip
    if communication is not None:
        cls["communication"] = communication
    return tiny_data(
        horizon="2h",
        datacenter={"sites": [{"name": "dc1", "racks": 2, "nodes_per_rack": 2, "node": {"gpus": 8},
                               "network": {"nic": "100Gbps", "oversubscription": 2}}]},
        workload={"jobs": [cls]},
        policies={"scheduler": "fifo", "placement": "plugins.toy_policies:AcrossRacks"},
    )  # fmt: skip


def test_the_links_table_holds_each_links_traffic_over_the_window() -> None:
    """8 NIC links carrying 8/1.16 of 100 Gb/s and 4 uplink bundles 16/1.16 of 100, while the jobs run, of 2 h."""
    links = run_data(shared_uplinks()).links
    assert len(links) == 2 * 4 + 2 * 2
    nic = links[links["tier"] == "nic"]
    up = links[links["tier"] == "uplink"]
    assert len(nic) == 8 and len(up) == 4
    assert nic["utilization"].to_numpy() == pytest.approx([NIC_GBPS / 100 * RUNNING] * 8, rel=1e-9)
    assert up["utilization"].to_numpy() == pytest.approx([UP_GBPS / 100 * RUNNING] * 4, rel=1e-9)
    assert up["capacity_bps"].to_numpy() == pytest.approx([2 * 100e9 / 2] * 4)
    assert up["label"].tolist() == ["uplinks up, rack 0", "uplinks down, rack 0", "uplinks up, rack 1",
                                    "uplinks down, rack 1"]  # fmt: skip
    assert nic["label"].iloc[5] == "NIC down, node 2 (rack 1)"  # link 5 = node 2's NIC down


def test_busiest_links_are_the_uplinks_then_the_nics(tmp_path: Path, figures: Any) -> None:
    from dcsim.report.plots import TIER_WORDS, busiest_links, plot_run

    result = run_data(shared_uplinks())
    top = busiest_links(result, top=6)
    assert top["tier"].astype(str).tolist() == ["uplink"] * 4 + ["nic"] * 2
    assert top["link"].tolist() == [8, 9, 10, 11, 0, 1]  # ties -> lower link id
    paths = plot_run(result, str(tmp_path))
    names = [Path(p).name for p in paths]
    assert names[-2:] == ["link_utilization.png", "busiest_links.png"]
    for name in names[-2:]:
        assert (tmp_path / name).read_bytes()[:8] == PNG
    by_title = {fig.axes[0].get_title(): fig.axes[0] for fig in figures()}
    bars_ax = next(ax for title, ax in by_title.items() if "busiest of 12 links" in title)
    widths = sorted((p.get_width() for p in bars_ax.patches), reverse=True)
    assert widths == pytest.approx([UP_GBPS * RUNNING] * 4 + [NIC_GBPS * RUNNING] * 8)  # all 12 links, in %
    labels = [t.get_text() for t in bars_ax.get_yticklabels()]
    assert labels[-1] == "uplinks up, rack 0"  # the busiest at the top
    tiers_ax = next(ax for title, ax in by_title.items() if "link utilization per tier" in title)
    ts = result.timeseries
    steps = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in tiers_ax.lines}
    assert steps[TIER_WORDS["nic"]] == pytest.approx(100 * ts["nic_utilization"].to_numpy())
    assert steps[TIER_WORDS["uplink"]] == pytest.approx(100 * ts["uplink_utilization"].to_numpy())
    means = sorted(float(line.get_ydata()[0]) for line in tiers_ax.lines if line.get_label().startswith("mean"))
    assert means == pytest.approx([NIC_GBPS * RUNNING, UP_GBPS * RUNNING])


def test_a_run_without_a_fabric_has_no_links_table_and_no_network_plots(tmp_path: Path) -> None:
    from dcsim.report.plots import plot_run

    result = run_data(shared_uplinks(None))
    assert result.links is None
    names = {Path(p).name for p in plot_run(result, str(tmp_path))}
    assert names == {"utilization.png", "wait_cdf.png"}


def test_plots_of_a_run_with_link_and_switch_failures_on_a_fat_tree(tmp_path: Path, figures: Any) -> None:
    """A leaf switch (rack 0) and a spine fail on the traced fabric: both kinds are stacked in failures.png, and a
    fat-tree's core links are named by pod in busiest_links.png."""
    from dcsim.report.plots import plot_run

    data = shared_uplinks()
    (tmp_path / "f.csv").write_text("time,component,duration\n600,switch:0,600\n1200,link:2,600\n")
    data["failures"] = {"trace": {"path": str(tmp_path / "f.csv")}}
    data["datacenter"]["sites"][0]["network"] = {"topology": "fat_tree", "nic": "100Gbps", "oversubscription": 2}
    result = run_data(data)
    names = [Path(p).name for p in plot_run(result, str(tmp_path))]
    assert {"failures.png", "link_utilization.png", "busiest_links.png"} <= set(names)
    failures_ax = next(f.axes[0] for f in figures() if "failures" in f.axes[0].get_title())
    legend = [t.get_text() for t in failures_ax.get_legend().get_texts()]
    assert {"switch: 1 failure", "link: 1 failure"} <= set(legend)
    assert result.links["label"].tolist()[-2:] == ["core uplinks up, pod 0", "core uplinks down, pod 0"]
