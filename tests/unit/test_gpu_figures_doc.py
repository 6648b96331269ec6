"""docs/background.md's table of GPU figures is the one the code uses."""

from __future__ import annotations

import re

from dcsim.infra.topology import DEFAULT_GPU_POWER_W, DEFAULT_GPU_SPEED, GPU_MEMORY_BYTES, GPU_POWER_W, GPU_SPEED

from conftest import ROOT


def test_the_documented_gpu_table_matches_the_code() -> None:
    text = (ROOT / "docs" / "background.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\| ([A-Za-z0-9 ]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) GB \| ([\d.]+) \|$", text, re.M)
    table = {name: tuple(float(v) for v in values) for name, *values in rows}
    expected = {t: (*GPU_POWER_W[t], GPU_MEMORY_BYTES[t] / 1e9, GPU_SPEED[t]) for t in GPU_POWER_W}
    expected["any other"] = (*DEFAULT_GPU_POWER_W, 0.0, DEFAULT_GPU_SPEED)
    assert table == expected
