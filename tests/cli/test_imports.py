"""Start-up costs what a command needs: each command imports only its own libraries.

Each case runs the command in a fresh interpreter through a small runner that calls
``dcsim.cli.main`` and then writes the names of every imported module to a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"

#: Libraries no plain ``dcsim run`` needs: plots, Dask, the LP solvers, SciPy, the fabric graph,
#: and pandas (its tables are numpy columns written through Arrow).
NOT_FOR_RUN = ("matplotlib", "dask", "distributed", "pulp", "highspy", "scipy", "networkx", "pandas")
#: ``dcsim validate`` reads YAML, checks it with the schema and prints the offered load (with
#: numpy's arithmetic, as the run's summary has it): no tables, no simulation engine.
NOT_FOR_VALIDATE = (*NOT_FOR_RUN, "pyarrow", "simpy")
#: ``dcsim --help`` is argparse alone.
NOT_FOR_HELP = (*NOT_FOR_VALIDATE, "numpy", "pydantic", "yaml")

RUNNER = """
import json, sys
from dcsim.cli import main
try:
    status = main(sys.argv[2:])
except SystemExit as exc:  # --help
    status = exc.code
with open(sys.argv[1], "w") as fh:
    json.dump(sorted(sys.modules), fh)
sys.exit(status)
"""

#: Runs ``dcsim ARGV`` and prints its own peak memory (kB) last on stderr: the high-water mark of
#: this process's memory (``ru_maxrss`` would include the pytest process it was forked from).
PEAK_RUNNER = """
import sys
from dcsim.cli import main
status = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM")), file=sys.stderr)
sys.exit(status)
"""


def loaded(tmp_path: Path, *argv: str) -> set[str]:
    """Every module imported by ``dcsim ARGV`` in a fresh interpreter."""
    listing = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(listing), *argv],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(listing.read_text()))


def imported(tmp_path: Path, *argv: str) -> set[str]:
    """Top-level packages imported by ``dcsim ARGV`` in a fresh interpreter."""
    return {name.split(".")[0] for name in loaded(tmp_path, *argv)}


def test_run_without_plots_imports_no_plotting_dask_lp_or_graph_library(tmp_path: Path) -> None:
    modules = imported(
        tmp_path, "run", str(QUICKSTART), "--set", "horizon=2d", "--set", "warmup=0", "--out", "out", "--quiet"
    )
    assert (tmp_path / "out" / "summary.json").exists()
    assert {"simpy", "pyarrow"} <= modules  # it did run
    assert sorted(modules & set(NOT_FOR_RUN)) == []


def test_a_trace_run_imports_no_pandas_and_no_arrow_compute(tmp_path: Path) -> None:
    """A trace is parsed by Arrow's CSV reader and its ids made without pyarrow.compute."""
    modules = loaded(tmp_path, "run", str(ROOT / "scenarios" / "trace_replay.yaml"), "--out", "out", "--quiet")
    assert "pyarrow.csv" in modules and (tmp_path / "out" / "jobs.parquet").exists()
    assert sorted(modules & {"pandas", "pyarrow.compute", *NOT_FOR_RUN}) == []


def test_validate_imports_no_table_or_array_library(tmp_path: Path) -> None:
    modules = imported(tmp_path, "validate", str(QUICKSTART))
    assert "pydantic" in modules
    assert sorted(modules & set(NOT_FOR_VALIDATE)) == []


def test_help_imports_neither_the_schema_nor_any_library(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert sorted(modules & set(NOT_FOR_HELP)) == []


@pytest.mark.parametrize("racks", [16_000])
def test_a_site_of_sixteen_thousand_racks_validates_in_seconds_and_little_memory(tmp_path: Path, racks: int) -> None:
    """512,000 GPUs (the fabric graph alone would have millions of links: it is not built)."""
    scenario = tmp_path / "big.yaml"
    scenario.write_text(
        "name: big\nhorizon: 1d\n"
        f"datacenter: {{sites: [{{name: dc1, racks: {racks}, nodes_per_rack: 4, node: {{gpus: 8}}}}]}}\n"
        "workload: {jobs: [{name: j, arrival: {process: poisson, rate: 1/h}, gpus: 8, duration: 1h}]}\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RUNNER, "validate", str(scenario)], capture_output=True, text=True, timeout=300
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert f"{racks:,} racks" in proc.stdout
    # About 1 s and 50 MB on a quiet 2-core machine (24 s and 1.2 GB when the fabric graph was built).
    assert wall < 15, f"validate took {wall:.1f} s"
    peak_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mb < 400, f"validate peaked at {peak_mb:.0f} MB"
