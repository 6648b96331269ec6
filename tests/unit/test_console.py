"""The run summary's header says "after warm-up" only when the run had one."""

from __future__ import annotations

from dcsim.report.console import summary_table

from conftest import run_data, tiny_data


def test_summary_header_says_after_warm_up_only_with_a_warm_up() -> None:
    """Warm-up 0 measures from time 0: the header must not speak of a warm-up; 1 h of warm-up: it must."""
    without = summary_table(run_data(tiny_data()).summary).splitlines()[1]
    with_warmup = summary_table(run_data(tiny_data(warmup="1h")).summary).splitlines()[1]
    assert "warm-up" not in without
    assert without.startswith("32 GPUs on 4 nodes; measured ")
    assert with_warmup.endswith(" after warm-up")
