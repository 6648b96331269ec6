"""CSV files read as text, with every parse failure a :class:`TraceError` naming the file and line.

Data files named in a scenario (job traces, empirical distributions, failure traces, a
site's price or carbon series) are read through :func:`read_csv_text`, so a bad row is
reported the same way wherever it is, as an editor counts lines (header = line 1).
"""

from __future__ import annotations

import os
import re
from typing import IO, TYPE_CHECKING

from dcsim.core.errors import TraceError, unreadable

if TYPE_CHECKING:
    import pandas as pd


def resolve(base_dir: str, path: str) -> str:
    """Resolve a scenario-relative path."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def read_csv_text(path: str, source: IO[bytes] | None = None) -> pd.DataFrame:
    """Read a CSV file as text columns, turning every parse failure into a TraceError naming the line.

    Args:
        path: the file, named in messages.
        source: its bytes when already read (default: read ``path``).
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path if source is None else source, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TraceError(f"{path}: the file is empty; it needs a header line and one row per value") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            want, line, got = m.groups()
            raise TraceError(
                f"{path} line {line}: {got} fields but the header has {want}; fix the row (a stray comma?)"
            ) from None
        raise TraceError(f"{path}: not a readable CSV file: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, exc, "a CSV file", TraceError) from None
    names = [str(c).strip() for c in frame.columns]  # `gpus ,` is the column `gpus`, as values are stripped
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise TraceError(f"{path}: the header names column {', '.join(map(repr, twice))} twice; rename one")
    frame.columns = names
    return frame
