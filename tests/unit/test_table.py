"""Tables of numpy columns: what they write through Arrow is what pandas would have written and reads back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.core.table import Coded, Table, arrow_coded, arrow_numbers, numbers_text, text_array

from conftest import ROOT


def sample() -> Table:
    return Table({
        "f": np.array([0.5, np.nan, -3.0, 1e300]),
        "i": np.array([3, -1, 0, 2**40], dtype=np.int64),
        "b": np.array([True, False, False, True]),
        "c": Coded(np.array([1, 0, -1, 1], dtype=np.int32), ("low", "high", "never")),
        "o": np.array(["x", None, "ünï", ""], dtype=object),
        "a": numbers_text(np.array([7, 0, 12, 1000])),
    })  # fmt: skip


def test_parquet_reads_back_as_the_dataframe_pandas_would_have_written(tmp_path: Path) -> None:
    table = sample()
    table.write_parquet(str(tmp_path / "t.parquet"))
    back = pd.read_parquet(tmp_path / "t.parquet")
    frame = table.to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    frame.to_parquet(tmp_path / "p.parquet", index=False)  # what run directories held before
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "p.parquet"), check_exact=True)
    assert back["c"].cat.categories.tolist() == ["low", "high", "never"]  # every name, in order
    assert back["c"].isna().tolist() == [False, False, True, False]
    raw = pq.read_table(tmp_path / "t.parquet")
    assert raw.column("f").null_count == 1 and raw.column("o").null_count == 1  # NaN and None as nulls


def test_rows_picks_the_same_rows_from_every_column_lazily() -> None:
    table = sample()
    part = table.rows(np.array([True, False, True, True])).rows(np.array([2, 0]))
    assert len(part) == 2
    assert part["i"].tolist() == [2**40, 3]
    assert part.coded("c").strings().tolist() == ["high", "high"]
    assert part["o"].tolist() == ["", "x"]
    assert part["a"].to_pylist() == ["1000", "7"]
    assert table["i"].tolist() == [3, -1, 0, 2**40]  # the base table is untouched


def test_coded_sorted_from_keeps_only_present_names_in_order() -> None:
    coded = Coded.sorted_from(np.array([2, 0, 2, -1]), ["b", "z", "a", "m"])
    assert coded.names == ("a", "b", "m")
    assert coded.strings().tolist() == ["a", "b", "a", "m"]
    twice = Coded.sorted_from(np.array([0, 2, 1, 2]), ["H100", "A100", "H100"])  # two pools of one type
    assert twice.names == ("A100", "H100") and twice.strings().tolist() == ["H100", "H100", "A100", "H100"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**62), max_size=50))
def test_numbers_text_is_the_decimal_digits(values: list[int]) -> None:
    assert numbers_text(np.array(values, dtype=np.int64)).to_pylist() == [str(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=30))
def test_text_array_keeps_texts_and_nulls(values: list[str | None]) -> None:
    assert text_array(values).to_pylist() == values


def test_arrow_columns_back_to_numpy_across_chunks_with_nulls() -> None:
    chunked = pa.chunked_array([pa.array([1.5, None, 3.0]), pa.array([4.0])])
    assert np.array_equal(arrow_numbers(chunked), [1.5, np.nan, 3.0, 4.0], equal_nan=True)
    sliced = pa.array([1, 2, 3, 4], type=pa.int64()).slice(1, 2)
    assert arrow_numbers(sliced).tolist() == [2, 3]
    words = pa.chunked_array([pa.array(["b", "a", "b"]).dictionary_encode(), pa.array(["c", "a"]).dictionary_encode()])
    codes, names = arrow_coded(words)
    assert [names[c] for c in codes.tolist()] == ["b", "a", "b", "c", "a"]


def test_building_and_writing_a_table_imports_no_pandas(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from dcsim.core.table import Coded, Table, numbers_text\n"
        "t = Table({'f': np.array([0.5, np.nan]), 'b': np.array([True, False]), 'o': np.array(['x', None]),\n"
        "           'c': Coded(np.array([0, -1], dtype=np.int32), ('a',)), 'a': numbers_text(np.array([3, 41]))})\n"
        f"t.write_parquet({str(tmp_path / 't.parquet')!r})\n"
        "assert 'pandas' not in sys.modules and 'pyarrow.compute' not in sys.modules, 'imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert pd.read_parquet(tmp_path / "t.parquet")["a"].tolist() == ["3", "41"]
