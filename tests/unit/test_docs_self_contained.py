"""What a user reads is true of a plain clone: no pointers outside it, the README's scenario is the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

#: Text a clone does not have: the folder beside the repository and its design and style files.
OUTSIDE = re.compile(r"shared/|\.\./shared|beside this repo|DESIGN\.md|STYLE\.md")


def user_facing() -> list[Path]:
    """Everything a user or contributor reads: docs, scenario comments, notebooks, bench notes, code and its output."""
    files = [ROOT / "README.md", ROOT / "results" / "README.md", ROOT / "pyproject.toml"]
    for folder, pattern in [
        ("docs", "*.md"),
        ("scenarios", "*"),
        ("notebooks", "*"),
        ("bench", "*"),
        ("dcsim", "*.py"),
    ]:
        files += [p for p in sorted((ROOT / folder).rglob(pattern)) if p.is_file() and "out" not in p.parts]
    return files


@pytest.mark.parametrize("path", user_facing(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_points_outside_the_clone(path: Path) -> None:
    """No file names shared/, the folder beside the repo, or DESIGN.md/STYLE.md as files to read."""
    text = path.read_text(encoding="utf-8", errors="replace")
    hits = [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]
    assert hits == []


def test_the_readme_scenario_is_the_quickstart_file() -> None:
    """README's "A scenario" block is scenarios/quickstart.yaml, byte for byte."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## A scenario") :]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    assert block.group(1) == (ROOT / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8")


def test_the_architecture_page_is_linked_and_names_every_package() -> None:
    """docs/architecture.md is in both documentation lists and names each package of dcsim/ as it is."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(architecture.md)" in (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in (ROOT / "dcsim").iterdir() if (p / "__init__.py").is_file())
    modules = sorted(p.name for p in (ROOT / "dcsim").glob("*.py") if p.name not in {"__init__.py", "__main__.py"})
    missing = [name for name in packages + modules if f"`{name}" not in page]
    assert missing == []
