"""summary.json holds every metric name of DESIGN.md's public contract."""

from __future__ import annotations

import re

from dcsim.metrics.scoring import CONTRACT, flatten

from conftest import SHARED, run_data, tiny_data


def test_every_contract_name_is_in_a_runs_summary() -> None:
    summary = flatten(run_data(tiny_data(horizon="1d")).summary)
    missing = [name for name in CONTRACT if name not in summary]
    assert missing == []


def test_the_contract_list_covers_design_md_when_it_is_beside_the_repo() -> None:
    """CONTRACT is exactly the backticked names of DESIGN.md's metrics table (a plain clone has no DESIGN.md).

    The families of features not built yet (the second table, "Families added with the next
    capabilities") join the contract with their features; none of them is claimed before.
    """
    design = SHARED / "DESIGN.md"
    if not design.exists():
        assert not SHARED.exists() or not (SHARED / "spec").exists()  # only a plain clone lacks it
        return
    text = design.read_text()
    section = text[text.index("## Metrics: names are a public contract") :]
    section = section[: section.index("\n## ", 1)]
    today, _, later = section.partition("Families added with the next capabilities")

    def names_in(text: str) -> set[str]:
        rows = [line for line in text.splitlines() if line.startswith("| `")]
        return {n for line in rows for n in re.findall(r"`([a-z0-9_.]+)`", line)}

    names = names_in(today)
    assert names, "no metric names found in DESIGN.md"
    assert names == set(CONTRACT), sorted(names ^ set(CONTRACT))
    assert not names_in(later) & set(CONTRACT)
