"""Prices and carbon that change by the hour, checked against arithmetic done by hand.

Two sites for 6 h. Site ``a`` (one node of 8 H100: 700 W busy, 100 W idle, 1,200 W base; PUE
1.5) has hourly series of four rows (so hours 4 and 5 repeat rows 0 and 1); site ``b`` (one
node of 4 A100: 400 W busy, 50 W idle, 600 W base; PUE 1.2) constant prices. Jobs are pinned
to a site by GPU type and arrive in batches with fixed run times, so the GPUs busy in each
hour are known:

- ``early``: 2 jobs of 4 H100 at 0 for 90 min: 8 GPUs busy in [0, 1.5 h);
- ``late``: 1 job of 8 H100 at 2.5 h for 1 h: 8 GPUs in [2.5 h, 3.5 h);
- ``wrap``: 1 job of 8 H100 at 4.5 h for 1 h: 8 GPUs in [4.5 h, 5.5 h);
- ``small``: 1 job of 2 A100 at 30 min for 2 h: 2 GPUs at ``b`` in [0.5 h, 2.5 h).

Each hour's energy at ``a`` is (base + idle GPUs) x 3,600 s + (busy - idle power) x the
busy GPU-seconds of that hour, times PUE; its cost and carbon are that hour's price and
intensity times it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dcsim.cli import main
from dcsim.metrics.scoring import flatten

from conftest import build, run_data, tiny_data

H = 3600.0
PRICES = [0.10, 0.20, 0.05, 0.30]  # USD/kWh from 0h, 1h, 2h, 3h; then again from 4h
CARBON = [400.0, 100.0, 300.0, 50.0]  # g/kWh


def node(gpus: int, gpu_type: str, busy_w: float, idle_w: float, base_w: float) -> dict[str, Any]:
    return {"gpus": gpus, "gpu_type": gpu_type, "gpu_power": f"{busy_w}W", "gpu_idle_power": f"{idle_w}W",
            "base_power": f"{base_w}W"}  # fmt: skip


def job(name: str, gpu_type: str, at: str, count: int, gpus: int, duration: str) -> dict[str, Any]:
    return {"name": name, "gpu_types": [gpu_type], "arrival": {"process": "batch", "at": at}, "count": count,
            "gpus": gpus, "duration": {"dist": "fixed", "value": duration}}  # fmt: skip


def write_series(folder: Path) -> None:
    rows = "".join(f"{k}h,{p}\n" for k, p in enumerate(PRICES))
    (folder / "price.csv").write_text("time,usd_per_kwh\n" + rows, encoding="utf-8")
    rows = "".join(f"{k * 3600},{c}\n" for k, c in enumerate(CARBON))  # seconds, as a bare number
    (folder / "carbon.csv").write_text("time,g_per_kwh\n" + rows, encoding="utf-8")


def hourly_data() -> dict[str, Any]:
    return {
        "name": "hourly",
        "horizon": "6h",
        "datacenter": {"sites": [
            {"name": "a", "racks": 1, "nodes_per_rack": 1, "node": node(8, "H100", 700, 100, 1200),
             "timezone": "Europe/Stockholm", "pue": 1.5,
             "electricity_usd_per_kwh": {"series": "price.csv"}, "carbon_g_per_kwh": {"series": "carbon.csv"}},
            {"name": "b", "racks": 1, "nodes_per_rack": 1, "node": node(4, "A100", 400, 50, 600),
             "costs": {"electricity_usd_per_kwh": 0.07, "pue": 1.2, "carbon_g_per_kwh": 30}},
        ]},
        "workload": {"jobs": [
            job("early", "H100", "0h", 2, 4, "90m"),
            job("late", "H100", "2.5h", 1, 8, "1h"),
            job("wrap", "H100", "4.5h", 1, 8, "1h"),
            job("small", "A100", "30m", 1, 2, "2h"),
        ]},
        "costs": {"gpu_hour_usd": {"H100": 2.0, "A100": 1.0}},
    }  # fmt: skip


@pytest.fixture
def hourly(tmp_path: Path) -> dict[str, Any]:
    write_series(tmp_path)
    result = run_data(hourly_data(), base_dir=str(tmp_path))
    return result.summary


# Busy H100 GPU-seconds at site a in each hour 0..5, from the schedule above.
BUSY_A = [8 * H, 8 * 0.5 * H, 8 * 0.5 * H, 8 * 0.5 * H, 8 * 0.5 * H, 8 * 0.5 * H]


def site_a_hours() -> list[float]:
    """kWh of site a in each hour."""
    return [((1200 + 8 * 100) * H + (700 - 100) * busy) * 1.5 / 3.6e6 for busy in BUSY_A]


def test_energy_cost_and_carbon_are_each_hours_energy_times_its_price(hourly: dict[str, Any]) -> None:
    a_kwh = site_a_hours()
    price = PRICES + PRICES[:2]  # the 4-hour series repeats over the 6-hour horizon
    carbon = CARBON + CARBON[:2]
    a_usd = sum(e * p for e, p in zip(a_kwh, price, strict=True))
    a_kg = sum(e * c for e, c in zip(a_kwh, carbon, strict=True)) / 1000
    b_kwh = ((600 + 4 * 50) * 6 * H + (400 - 50) * 2 * 2 * H) * 1.2 / 3.6e6
    s = flatten(hourly)
    rel = 1e-9
    assert s["cost.by_site.a.energy_kwh"] == pytest.approx(sum(a_kwh), rel=rel)
    assert s["cost.by_site.a.energy_usd"] == pytest.approx(a_usd, rel=rel)
    assert s["cost.by_site.a.carbon_kg"] == pytest.approx(a_kg, rel=rel)
    assert s["cost.by_site.b.energy_usd"] == pytest.approx(b_kwh * 0.07, rel=rel)
    assert s["cost.by_site.b.carbon_kg"] == pytest.approx(b_kwh * 30 / 1000, rel=rel)
    assert s["cost.energy_kwh"] == pytest.approx(sum(a_kwh) + b_kwh, rel=rel)
    assert s["cost.energy_usd"] == pytest.approx(a_usd + b_kwh * 0.07, rel=rel)
    assert s["cost.carbon_kg"] == pytest.approx(a_kg + b_kwh * 30 / 1000, rel=rel)
    capital = (8 * 2.0 + 4 * 1.0) * 6
    assert s["cost.total_usd"] == pytest.approx(capital + a_usd + b_kwh * 0.07, rel=rel)
    productive_h = (sum(BUSY_A) + 2 * 2 * H) / H
    assert s["cost.carbon_kg_per_productive_gpu_hour"] == pytest.approx(s["cost.carbon_kg"] / productive_h, rel=rel)


def test_each_class_carries_the_carbon_of_its_gpus_in_each_hour(hourly: dict[str, Any]) -> None:
    """A class is charged its GPU-seconds x (busy GPU power + its share of the node's base power) x PUE x intensity."""
    per_gpu_a = (700 + 1200 / 8) * 1.5 / 3.6e6 / 1000  # kg per GPU-second per g/kWh
    early = (8 * H * CARBON[0] + 8 * 0.5 * H * CARBON[1]) * per_gpu_a
    late = (8 * 0.5 * H * CARBON[2] + 8 * 0.5 * H * CARBON[3]) * per_gpu_a
    wrap = (8 * 0.5 * H * CARBON[0] + 8 * 0.5 * H * CARBON[1]) * per_gpu_a
    small = 2 * 2 * H * 30 * (400 + 600 / 4) * 1.2 / 3.6e6 / 1000
    s = flatten(hourly)
    for name, kg in (("early", early), ("late", late), ("wrap", wrap), ("small", small)):
        assert s[f"classes.{name}.carbon_kg"] == pytest.approx(kg, rel=1e-9), name
    attributed = early + late + wrap + small
    assert s["cost.unattributed_carbon_kg"] == pytest.approx(s["cost.carbon_kg"] - attributed, rel=1e-9)
    assert s["cost.unattributed_carbon_kg"] > 0  # idle GPUs and the idle nodes' base power


def test_sites_block_counts_each_sites_jobs_and_mean_prices(hourly: dict[str, Any]) -> None:
    sites = hourly["sites"]
    assert sites["a"]["installed_gpus"] == 8 and sites["b"]["installed_gpus"] == 4
    assert (sites["a"]["jobs_started"], sites["a"]["jobs_completed"]) == (4, 4)
    assert (sites["b"]["jobs_started"], sites["b"]["jobs_completed"]) == (1, 1)
    assert sites["a"]["mean_electricity_usd_per_kwh"] == pytest.approx(sum(PRICES + PRICES[:2]) / 6, rel=1e-12)
    assert sites["a"]["mean_carbon_g_per_kwh"] == pytest.approx(sum(CARBON + CARBON[:2]) / 6, rel=1e-12)
    assert sites["b"]["mean_carbon_g_per_kwh"] == 30


def test_constant_prices_price_energy_as_before(tmp_path: Path) -> None:
    """A one-row series is a constant: the same figures as the number itself, and one bin."""
    (tmp_path / "flat.csv").write_text("time,usd_per_kwh\n0h,0.2\n", encoding="utf-8")
    data = hourly_data()
    a = data["datacenter"]["sites"][0]
    del a["carbon_g_per_kwh"]
    a["electricity_usd_per_kwh"] = 0.2
    number = run_data(data, base_dir=str(tmp_path)).summary
    a["electricity_usd_per_kwh"] = {"series": "flat.csv"}
    series = run_data(data, base_dir=str(tmp_path)).summary
    assert number["cost"] == series["cost"]
    assert number["cost"]["by_site"]["a"]["energy_usd"] == pytest.approx(sum(site_a_hours()) * 0.2, rel=1e-12)
    # Site a counts no carbon (no intensity there, none scenario-wide): the total is not known.
    assert number["cost"]["carbon_kg"] is None and number["cost"]["by_site"]["a"]["carbon_kg"] is None
    assert number["cost"]["by_site"]["b"]["carbon_kg"] is not None


def test_site_field_and_costs_block_are_one_thing(tmp_path: Path) -> None:
    """A site's `pue` is the shorthand of its costs.pue: the same run; both at once is an error naming the field."""
    write_series(tmp_path)
    data = hourly_data()
    short = run_data(data, base_dir=str(tmp_path)).summary
    a = data["datacenter"]["sites"][0]
    a["costs"] = {"pue": a.pop("pue")}
    assert run_data(data, base_dir=str(tmp_path)).summary == short
    a["pue"] = 1.5
    with pytest.raises(Exception, match=r"datacenter\.sites\.0.*pue: given both on the site and in its `costs`"):
        build(data, str(tmp_path))


BAD_ROWS = [
    ("time,usd_per_kwh\n0h,0.1\n1h,cheap\n", "line 3: usd_per_kwh is 'cheap'"),
    ("time,usd_per_kwh\n0h,0.1\n1h,-0.1\n", "line 3: usd_per_kwh is '-0.1'"),
    ("time,usd_per_kwh\n0h,0.1\nlater,0.2\n", "line 3: time is 'later'"),
    ("time,usd_per_kwh\n0h,0.1\n2h,0.2\n1h,0.3\n", "line 4: time '1h' is not after the row before's"),
    ("time,usd_per_kwh\n1h,0.1\n", "line 2: the first time is '1h'"),
    ("time,price\n0h,0.1\n", "no column 'usd_per_kwh'"),
    ("time,usd_per_kwh\n0h,0.1\n1h,0.2,9\n", "line 3: 3 fields"),
]


@pytest.mark.parametrize(("text", "says"), BAD_ROWS)
def test_a_bad_series_row_is_exit_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    write_series(tmp_path)
    (tmp_path / "price.csv").write_text(text, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hourly_data()), encoding="utf-8")
    out = tmp_path / "out"
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "datacenter.sites.0.electricity_usd_per_kwh.series" in err
        assert f"{tmp_path / 'price.csv'} {says}" in err or f"{tmp_path / 'price.csv'}: {says}" in err
        assert "Traceback" not in err and "pydantic" not in err
    assert not out.exists()


def test_validate_notes_a_series_that_repeats_and_carbon_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_series(tmp_path)
    data = hourly_data()
    del data["datacenter"]["sites"][1]["costs"]["carbon_g_per_kwh"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "datacenter.sites.0.electricity_usd_per_kwh: price.csv covers 4.00 h" in out
    assert "it repeats over the 6.00 h horizon" in out
    assert "carbon is not counted at site b" in out


def test_unknown_time_zone_is_exit_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_series(tmp_path)
    data = hourly_data()
    data["datacenter"]["sites"][0]["timezone"] = "Europe/Atlantis"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "datacenter.sites.0.timezone: no time zone 'Europe/Atlantis'" in err


def test_the_sites_busy_gpus_add_up_to_the_timeseries(tmp_path: Path) -> None:
    """sites.parquet's busy GPUs, rebuilt from the runs, equal the engine's samples summed over sites."""
    write_series(tmp_path)
    data = hourly_data()
    data["horizon"] = "2d"
    data["workload"] = {"jobs": [
        {"name": "any", "arrival": {"process": "poisson", "rate": "3/h"}, "gpus": {"values": [1, 2, 4]},
         "duration": {"dist": "exponential", "mean": "1h"}},
    ]}  # fmt: skip
    result = run_data(data, base_dir=str(tmp_path))
    sites, ts = result.sites, result.timeseries
    assert sites is not None and set(sites["site"]) == {"a", "b"}
    total = sites.groupby("time_s", sort=True)["busy_gpus"].sum().to_numpy()
    assert total.tolist() == ts["busy_gpus"].tolist()
    assert ts["busy_gpus"].max() > 4  # both sites were busy at times
    a = sites[sites["site"] == "a"]
    assert a["electricity_usd_per_kwh"].tolist() == [PRICES[int(t // H) % 4] for t in a["time_s"]]


def test_sites_plot_draws_each_sites_load_price_and_carbon(tmp_path: Path, figures: Any) -> None:
    from dcsim.report.plots import plot_run

    write_series(tmp_path)
    result = run_data(hourly_data(), base_dir=str(tmp_path))
    paths = plot_run(result, str(tmp_path))
    assert str(tmp_path / "sites.png") in paths
    fig = next(f for f in figures() if "by site" in f.axes[0].get_title())
    load, price, carbon = fig.axes
    assert [line.get_label() for line in price.lines] == ["a", "b"]
    sites = result.sites
    a = sites[sites["site"] == "a"]
    hour = (a["time_s"].to_numpy() // H).astype(int) % 4
    assert np.asarray(price.lines[0].get_ydata(), dtype=float) == pytest.approx(np.array(PRICES)[hour])
    assert np.asarray(carbon.lines[0].get_ydata(), dtype=float) == pytest.approx(np.array(CARBON)[hour])
    assert np.asarray(load.lines[0].get_ydata(), dtype=float) == pytest.approx(100 * a["busy_gpus"] / 8)


def test_one_site_at_constant_prices_has_no_sites_table_or_plot(tmp_path: Path) -> None:
    from dcsim.report.plots import plot_run

    result = run_data(tiny_data(horizon="4h"))
    assert result.sites is None
    assert "sites.png" not in {Path(p).name for p in plot_run(result, str(tmp_path))}
