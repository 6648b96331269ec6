"""Plug-in policies load by 'module:Class'; progress shows only on terminals; docs stay current."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dcsim.core.errors import PlacementError, ScenarioError
from dcsim.report.progress import Progress

from conftest import ROOT, build, run_data, tiny_data


def test_plugin_placement_is_loaded_and_used() -> None:
    """LastFit puts every 1-GPU job on the highest-id node (node 3 of 4)."""
    r = run_data(tiny_data(policies={"placement": "plugins.toy_policies:LastFit"}))
    assert r.jobs["first_node"].tolist() == [3, 3, 3, 3]
    assert r.summary["jobs"]["completed"] == 4


def test_plugin_params_are_validated() -> None:
    with pytest.raises(ScenarioError, match=r"policies.placement.*params.skip"):
        build(tiny_data(policies={"placement": {"name": "plugins.toy_policies:LastFit", "params": {"skip": "x"}}}))


def test_plugin_that_cannot_be_imported_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match=r"cannot load placement plug-in 'nope\.mod:X'"):
        build(tiny_data(policies={"placement": "nope.mod:X"}))


def test_plugin_scheduler_orders_the_queue() -> None:
    """Three whole-node jobs at t=0 on one node, run times 1, 3, 2 h: longest-first starts 3 h, 2 h, 1 h."""
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"jobs": [
            {"name": f"j{h}", "arrival": {"process": "batch", "at": f"{i}s"}, "count": 1, "gpus": 8,
             "duration": f"{h}h"}
            for i, h in enumerate([1, 3, 2])]},
        policies={"scheduler": "plugins.toy_policies:LongestFirst"},
    )  # fmt: skip
    jobs = run_data(data).jobs.sort_values("start_s")
    assert jobs["duration_s"].tolist() == [3600.0, 3 * 3600.0, 2 * 3600.0]  # first one runs at once


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeModel:
    now = 3600.0
    collector = type("C", (), {"n_submitted": 10, "finished": {"time": [1.0, 2.0]}})()
    queue = ()


def test_progress_prints_on_a_terminal_after_the_delay() -> None:
    out = FakeTerminal()
    p = Progress(horizon=7200.0, stream=out, delay_s=0.0, every_s=0.0)
    p(FakeModel())
    assert "50 %" in out.getvalue() and "10 submitted" in out.getvalue()


def test_progress_is_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(horizon=7200.0, stream=out, delay_s=0.0, every_s=0.0)
    p(FakeModel())
    p.close()
    assert out.getvalue() == ""


def test_scenario_reference_in_docs_is_current() -> None:
    """docs/reference/scenario.md is `dcsim schema --markdown`; regenerate it after a schema change."""
    from dcsim.scenario.reference import markdown_reference

    assert (ROOT / "docs/reference/scenario.md").read_text() == markdown_reference() + "\n"


def test_readme_quick_start_is_the_ci_command() -> None:
    """The README's test command is what .ci/run runs, and it shows the quick-start run."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "python3 -m pip install -e . && dcsim run scenarios/quickstart.yaml" in readme
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest" in readme
    assert "-e '.[test]'" in ci and "python3 -m pytest" in ci


def test_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "dcsim.cli", "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "validate", "compare", "schema", "policies"):
        assert command in out.stdout


def test_a_run_where_no_job_ever_starts_says_so() -> None:
    """LastFit leaves multi-node jobs queued; with only 16-GPU jobs nothing runs, and the notes say why to look."""
    data = tiny_data(policies={"placement": "plugins.toy_policies:LastFit"}, horizon="1d")
    data["workload"]["jobs"][0]["gpus"] = 16
    s = run_data(data).summary
    assert s["jobs"]["completed"] == 0
    assert any("no job" in note and "ever started" in note for note in s["notes"])


def test_an_invalid_plugin_placement_is_refused_by_name() -> None:
    """AlwaysNodeZero over-books node 0 on the ninth 1-GPU job: an error naming the policy, not corruption."""
    data = tiny_data(policies={"placement": "plugins.toy_policies:AlwaysNodeZero"})
    data["workload"]["jobs"][0].update({"arrival": {"process": "batch"}, "count": 9})
    with pytest.raises(PlacementError, match=r"'plugins.toy_policies:AlwaysNodeZero' gave job 8 1 GPUs on node 0"):
        run_data(data)


def test_backfill_offers_every_job_to_a_plugin_that_is_not_uniform_in_a_class() -> None:
    """Tenant a may use node 0 only. X (b, 8 GPUs, 10 h) takes node 0, Y (b, 8 GPUs, 1 h) node 1.

    A (tenant a, 1 GPU) and then B (tenant b, 1 GPU) queue. When Y ends at 1 h, A still cannot
    run, but B can, on node 1. Skipping B because a same-size job just failed would be wrong
    for this policy: B must start at 1 h, not when node 0 frees at 10 h.
    """
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": [
            {"name": "X", "tenant": "b", "arrival": {"process": "batch"}, "count": 1, "gpus": 8, "duration": "10h"},
            {"name": "Y", "tenant": "b", "arrival": {"process": "batch"}, "count": 1, "gpus": 8, "duration": "1h"},
            {"name": "A", "tenant": "a", "arrival": {"process": "batch", "at": "1s"}, "count": 1, "gpus": 1,
             "duration": "1h"},
            {"name": "B", "tenant": "b", "arrival": {"process": "batch", "at": "2s"}, "count": 1, "gpus": 1,
             "duration": "1h"}]},
        policies={"scheduler": {"name": "fifo", "params": {"backfill": True}},
                  "placement": "plugins.toy_policies:TenantPinned"},
    )  # fmt: skip
    jobs = run_data(data).jobs.set_index("job_class")
    assert jobs.loc["B", "start_s"] == 3600.0
    assert jobs.loc["B", "first_node"] == 1
    assert jobs.loc["A", "start_s"] == 10 * 3600.0


def test_a_subclass_of_a_builtin_rule_does_not_inherit_its_guarantees() -> None:
    """PinnedFirstFit over-books node 0; its placements are checked although FirstFit's are not."""
    data = tiny_data(policies={"placement": "plugins.toy_policies:PinnedFirstFit"})
    data["workload"]["jobs"][0].update({"arrival": {"process": "batch"}, "count": 9, "tenant": "a"})
    with pytest.raises(PlacementError, match="PinnedFirstFit"):
        run_data(data)


def test_a_run_without_horizon_stops_when_its_queue_can_never_move() -> None:
    """LastFit never places 16-GPU jobs: with nothing running or arriving, the run ends and says why."""
    data = tiny_data(policies={"placement": "plugins.toy_policies:LastFit"})
    data["workload"]["jobs"][0]["gpus"] = 16
    s = run_data(data).summary
    assert s["jobs"]["queued_at_end"] == 4
    assert s["window"]["end_s"] == 3 * 3600.0  # the last arrival
    assert any("never places them" in note for note in s["notes"])


def test_a_plugin_that_raises_is_named_in_one_message(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    import yaml

    from dcsim.cli import main

    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(tiny_data(policies={"placement": "plugins.toy_policies:Raises"})))
    assert main(["run", str(file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "placement plug-in 'plugins.toy_policies:Raises' raised ValueError: oops" in err
    assert "toy_policies.py" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_gpu_type_is_noted_with_the_defaults_used() -> None:
    data = tiny_data()
    data["datacenter"]["sites"][0]["node"]["gpu_type"] = "h100"
    notes = run_data(data).summary["notes"]
    assert any("GPU type h100 is not in dcsim's table" in n for n in notes)


# --------------------------------------------------------------------------- plug-ins that are no policy
@pytest.mark.parametrize(
    ("kind", "name", "why"),
    [
        ("placement", "os:system", "it is a function, not a class"),
        ("placement", "numpy:ndarray", "no method place"),
        ("placement", "plugins.toy_policies:LongestFirst", "no method place"),  # a scheduler given as placement
        ("scheduler", "plugins.toy_policies:LastFit", "no method key"),  # a placement given as scheduler
        ("repair", "plugins.toy_policies:LastFit", "no method key"),
        ("placement", "plugins.toy_policies:NoRngInit", r"it cannot be built as Class\(params, rng\)"),
        ("placement", "plugins.toy_policies:BadParams", "its Params is not a pydantic model"),
        ("placement", "os:sep", "it is a value, not a class"),
    ],
)
def test_plugin_that_is_not_a_policy_is_refused_at_validation(kind: str, name: str, why: str) -> None:
    """Validation refuses it before anything of it is called (os:system would otherwise run as os.system(...))."""
    import plugins.toy_policies as toy

    toy.CALLS.clear()
    data = tiny_data(failures={"node": {"mtbf": "1000h"}}) if kind == "repair" else tiny_data()
    where = "repair.policy" if kind == "repair" else f"policies.{kind}"
    if kind == "repair":
        data["repair"] = {"policy": name}
    else:
        data["policies"] = {kind: name}
    with pytest.raises(ScenarioError, match=rf"{where}: {kind} plug-in .* is not a {kind} policy: {why}") as info:
        build(data)
    assert toy.CALLS == []  # nothing of the class was called
    assert "Traceback" not in str(info.value) and len(str(info.value).splitlines()) == 2


@pytest.mark.parametrize("name", ["..:X", "a/b:C", "mod:", ":Cls", "mod:not-a-name", "os:system()"])
def test_plugin_name_that_is_not_module_colon_class_is_refused(name: str) -> None:
    with pytest.raises(ScenarioError, match=r"give a plug-in as 'module:Class'"):
        build(tiny_data(policies={"placement": name}))


def test_plugin_module_that_fails_to_import_is_reported_as_its_own_error() -> None:
    with pytest.raises(ScenarioError, match=r"importing 'plugins.broken_module' failed \(ZeroDivisionError"):
        build(tiny_data(policies={"placement": "plugins.broken_module:X"}))


def _plugin_beside_scenario(folder: Path, marker: Path) -> Path:
    """A scenario and, beside it, a plug-in module that leaves ``marker`` when it is imported."""
    folder.mkdir()
    (folder / "besidepolicy.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('imported')\n"
        "from dcsim.policies.placement import FirstFit as Beside\n",
        encoding="utf-8",
    )
    scenario = folder / "s.yaml"
    scenario.write_text(yaml.safe_dump(tiny_data(policies={"placement": "besidepolicy:Beside"})), encoding="utf-8")
    return scenario


def test_plugin_module_beside_the_scenario_loads_from_any_folder(tmp_path: Path) -> None:
    """The console script has no scenario folder on its path: dcsim looks beside the scenario file."""
    marker = tmp_path / "imported"
    scenario = _plugin_beside_scenario(tmp_path / "study", marker)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim", "run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"],
        cwd=elsewhere, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "imported"
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["policies"]["placement"]["name"] == (
        "besidepolicy:Beside"
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_plugins_refuses_a_plugin_without_importing_it(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "imported"
    scenario = _plugin_beside_scenario(tmp_path / "study", marker)
    env = {**os.environ, "DCSIM_NO_PLUGINS": "1"} if how == "env" else dict(os.environ)
    args = ["--no-plugins"] if how == "flag" else []
    proc = subprocess.run(
        [sys.executable, "-m", "dcsim", "run", str(scenario), "--out", str(tmp_path / "out"), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "plug-ins are off" in proc.stderr and "policies.placement" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()  # the module's code never ran
    assert not (tmp_path / "out").exists()
