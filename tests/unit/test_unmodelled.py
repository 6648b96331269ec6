"""Fields that are recorded but not yet modelled say so, in the run's notes and in `dcsim validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main

from conftest import run_data, tiny_data

NOT_MODELLED = "recorded but not yet modelled"


def with_network(**network: Any) -> dict[str, Any]:
    """The tiny scenario with a network block on its site."""
    data = tiny_data()
    data["datacenter"]["sites"][0]["network"] = network
    return data


def test_no_network_block_no_note() -> None:
    """A site without a network block sets nothing unmodelled: no note."""
    assert not any(NOT_MODELLED in n for n in run_data(tiny_data()).summary["notes"])


def test_network_fields_set_are_named_in_one_note_and_change_no_result() -> None:
    """The note names exactly the network fields set, and what it says holds: the metrics are the same."""
    plain = run_data(tiny_data()).summary
    fabric = run_data(with_network(nic="25Gbps", oversubscription=8)).summary
    notes = [n for n in fabric.pop("notes") if NOT_MODELLED in n]
    assert len(notes) == 1
    assert notes[0].startswith("network.nic, network.oversubscription are recorded but not yet modelled")
    assert "network.topology" not in notes[0] and "network.spines" not in notes[0]
    plain.pop("notes")
    assert fabric == plain


def test_gpu_types_without_speed_are_noted_only_when_mixed() -> None:
    """Two GPU types get a note that speed is not modelled; one type does not."""
    mixed = tiny_data()
    site = mixed["datacenter"]["sites"][0]
    del site["racks"], site["nodes_per_rack"], site["node"]
    site["rack_groups"] = [
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "A100"}},
    ]
    speed = [n for n in run_data(mixed).summary["notes"] if "speed" in n]
    assert len(speed) == 1 and speed[0].startswith("GPU types A100, H100 differ")
    assert not any("speed" in n for n in run_data(tiny_data()).summary["notes"])


@pytest.mark.parametrize(("network", "noted"), [(None, False), ({"nic": "200Gbps"}, True)])
def test_validate_prints_the_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], network: dict[str, Any] | None, noted: bool
) -> None:
    """`dcsim validate` prints the note when the file sets a network field, and not otherwise."""
    data = tiny_data() if network is None else with_network(**network)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert (f"note: network.nic is {NOT_MODELLED}" in out) is noted
