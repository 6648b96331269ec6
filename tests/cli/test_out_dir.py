"""--out never destroys what is not an earlier dcsim run."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.cli import main

from conftest import ROOT

QUICK = [str(ROOT / "scenarios/quickstart.yaml"), "--set", "horizon=1d", "--set", "warmup=0", "--quiet"]


def test_out_dir_with_other_files_is_refused_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine"
    (target / "sub").mkdir(parents=True)
    (target / "keep.txt").write_text("precious")
    assert main(["run", *QUICK, "--out", str(target)]) == 2
    assert (target / "keep.txt").read_text() == "precious"
    assert (target / "sub").is_dir()
    assert "not part of one dcsim run" in capsys.readouterr().err


def test_working_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    for out in (".", "..", str(tmp_path)):
        assert main(["run", *QUICK, "--out", out]) == 2
    assert (tmp_path / "x.txt").exists()


def test_earlier_run_and_empty_dir_are_replaced(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", *QUICK, "--out", str(empty)]) == 0
    first = (empty / "manifest.json").read_text()
    assert main(["run", *QUICK, "--out", str(empty), "--seed", "9"]) == 0
    assert (empty / "manifest.json").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no temporary or old dirs left


def test_a_folder_that_merely_has_a_manifest_json_is_refused(tmp_path: Path) -> None:
    """A web app's manifest.json does not make its folder a dcsim run (review finding)."""
    app = tmp_path / "webapp"
    (app / "src").mkdir(parents=True)
    (app / "manifest.json").write_text('{"name": "my app"}')
    (app / "src" / "app.js").write_text("code")
    assert main(["run", *QUICK, "--out", str(app)]) == 2
    assert (app / "src" / "app.js").read_text() == "code"


def test_an_earlier_run_with_the_users_notes_added_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r1"
    assert main(["run", *QUICK, "--out", str(out)]) == 0
    (out / "analysis.ipynb").write_text("{}")
    assert main(["run", *QUICK, "--out", str(out)]) == 2
    assert (out / "analysis.ipynb").exists()


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert main(["run", *QUICK, "--out", str(tmp_path / "link")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_every_table_and_plot_a_run_writes_lets_the_next_run_replace_it() -> None:
    """Each table a run may write (as Parquet and CSV) and each plot the report draws is a run file.

    A run with a table missing from the list (tenants.parquet was, review finding) left a
    directory the next run refused to replace. The plots are read from the report's source,
    so a new plot that is not listed fails here.
    """
    import re

    from dcsim.experiment.results import RUN_FILES
    from dcsim.experiment.run import WRITTEN

    assert {f"{t}.{ext}" for t in WRITTEN for ext in ("parquet", "csv")} <= RUN_FILES
    drawn = set()
    for source in (ROOT / "dcsim" / "report").glob("*.py"):
        drawn |= set(re.findall(r'os\.path\.join\(out_dir, "([a-z_]+\.png)"\)', source.read_text(encoding="utf-8")))
    assert len(drawn) >= 9 and drawn <= RUN_FILES


def test_a_tenants_run_with_csv_tables_is_replaced_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "t"
    args = ["run", str(ROOT / "scenarios/tenant_quotas.yaml"), "--set", "horizon=1d", "--set", "warmup=0",
            "--quiet", "--csv", "--out", str(out)]  # fmt: skip
    assert main(args) == 0 and (out / "tenants.parquet").is_file() and (out / "tenants.csv").is_file()
    assert main([*args, "--seed", "3"]) == 0
