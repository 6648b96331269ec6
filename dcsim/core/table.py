"""Tables of named numpy columns, written to Parquet through Arrow without pandas.

A run's tables (jobs, timeseries, failures, ...) are built, scored and written as
numpy columns: importing pandas costs a quarter of a second per process, more than
simulating 10,000 jobs. pandas is imported only when a caller asks for a DataFrame
(:meth:`Table.to_pandas`: plots, ``compare``, the Python API).

Arrow arrays are made from numpy buffers (``pyarrow.Array.from_buffers``), because
``pyarrow.array`` imports pandas to look for pandas types; NaN in a float column and
``None`` in a text column are written as Arrow nulls, as pandas writes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class Coded:
    """A text column stored as small integer codes into ``names``; code -1 is missing.

    Written as an Arrow dictionary column (a pandas ``Categorical`` when read back),
    with every name in ``names`` as a category, in that order.
    """

    codes: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.codes.size)

    def code(self, name: str) -> int:
        """The code of ``name`` (-2, matching no row, if it is not one of the names)."""
        return self.names.index(name) if name in self.names else -2

    def is_(self, name: str) -> np.ndarray:
        """Mask of the rows whose value is ``name``."""
        return self.codes == self.code(name)

    def strings(self) -> np.ndarray:
        """The values as an object array of names (None where missing)."""
        names = np.array([*self.names, None], dtype=object)
        return names[np.where(self.codes < 0, len(self.names), self.codes)]

    def take(self, rows: np.ndarray) -> Coded:
        """The column at ``rows`` (an index or mask array)."""
        return Coded(self.codes[rows], self.names)

    @staticmethod
    def sorted_from(codes: np.ndarray, names: Sequence[str]) -> Coded:
        """Codes into ``names`` recoded so that the names are those present, sorted and each once.

        ``names`` may repeat a name (two pools of one GPU type): its codes become one.
        Negative codes count from the end of ``names``, as in numpy indexing.
        """
        if not codes.size:
            return Coded(np.zeros(0, dtype=np.int32), ())
        codes = np.where(codes < 0, codes + len(names), codes)
        present = np.unique(codes).tolist()
        kept = sorted({names[c] for c in present})
        position = {name: i for i, name in enumerate(kept)}
        recode = np.zeros(len(names), dtype=np.int32)
        recode[present] = [position[names[c]] for c in present]
        return Coded(recode[codes], tuple(kept))


Column: TypeAlias = "np.ndarray | Coded | pa.Array"
"""A column: a numpy array (numbers, booleans, or objects: str or None), a :class:`Coded` text
column, or an Arrow text array (a trace's ids, kept as the CSV reader made them)."""


class Table:
    """Named columns of equal length, in order.

    ``table[name]`` is the column; ``table.rows(mask)`` a table of some rows. Columns
    are not copied on construction.
    """

    def __init__(self, columns: dict[str, Column]) -> None:
        lengths = {len(c) for c in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self._base = columns
        self._which: np.ndarray | None = None  # rows of the base columns this table holds (None: all)
        self._picked: dict[str, Column] = {}
        self._length = lengths.pop() if lengths else 0

    @property
    def columns(self) -> dict[str, Column]:
        """Every column, by name."""
        return {name: self[name] for name in self._base}

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, name: str) -> Any:
        if self._which is None:
            return self._base[name]
        if name not in self._picked:  # a column is picked out once, when first asked for
            self._picked[name] = _rows(self._base[name], self._which)
        return self._picked[name]

    def __contains__(self, name: str) -> bool:
        return name in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def number(self, name: str) -> np.ndarray:
        """A numeric column (a typed alias of ``table[name]``)."""
        column = self[name]
        assert isinstance(column, np.ndarray)
        return column

    def coded(self, name: str) -> Coded:
        """A coded text column (a typed alias of ``table[name]``)."""
        column = self[name]
        assert isinstance(column, Coded)
        return column

    def rows(self, which: np.ndarray) -> Table:
        """The table of the rows ``which`` selects (a boolean mask or indices); columns are picked when used."""
        index = np.flatnonzero(which) if which.dtype == np.bool_ else np.asarray(which, dtype=np.int64)
        out = Table.__new__(Table)
        out._base = self._base
        out._which = index if self._which is None else self._which[index]
        out._picked = {}
        out._length = int(index.size)
        return out

    def to_arrow(self) -> pa.Table:
        """The table as an Arrow table."""
        import pyarrow as pa

        return pa.Table.from_arrays([arrow_array(c) for c in self.columns.values()], names=list(self.columns))

    def write_parquet(self, path: str) -> None:
        """Write the table as a Parquet file."""
        import pyarrow.parquet as pq

        pq.write_table(self.to_arrow(), path)

    def to_pandas(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (imports pandas)."""
        import pandas as pd

        data: dict[str, Any] = {}
        for name, c in self.columns.items():
            if isinstance(c, Coded):
                data[name] = pd.Categorical.from_codes(c.codes, categories=list(c.names))
            elif not isinstance(c, np.ndarray) or c.dtype == object:
                data[name] = pd.Series(c, dtype="str")
            else:
                data[name] = c
        return pd.DataFrame(data, copy=False)


def _rows(column: Column, which: np.ndarray) -> Column:
    """Some rows of a column."""
    if isinstance(column, Coded):
        return column.take(which)
    if isinstance(column, np.ndarray):
        return column[which]
    import pyarrow as pa

    index = np.flatnonzero(which) if which.dtype == np.bool_ else which
    return column.take(numbers_array(index.astype(np.int64), pa.int64(), None))


def arrow_array(column: Column) -> pa.Array:
    """A column as an Arrow array: NaN floats and None texts as nulls, coded texts as a dictionary."""
    import pyarrow as pa

    if not isinstance(column, np.ndarray | Coded):
        return column
    if isinstance(column, Coded):
        codes = column.codes.astype(np.int32, copy=False)
        return pa.DictionaryArray.from_arrays(numbers_array(codes, pa.int32(), codes >= 0), text_array(column.names))
    if column.dtype == object:
        return text_array(column)
    if column.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), column.size, [None, _bits(column)])
    kind = {np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(),
            np.dtype(np.int8): pa.int8()}  # fmt: skip
    if column.dtype not in kind:
        raise TypeError(f"no Arrow type for a numpy column of {column.dtype}")
    valid = ~np.isnan(column) if column.dtype == np.float64 else None
    return numbers_array(column, kind[column.dtype], valid)


def _bits(mask: np.ndarray) -> pa.Buffer:
    """A boolean array as Arrow's bitmap (least significant bit first)."""
    import pyarrow as pa

    return pa.py_buffer(np.packbits(mask.astype(np.bool_, copy=False), bitorder="little"))


def numbers_array(values: np.ndarray, kind: pa.DataType, valid: np.ndarray | None) -> pa.Array:
    """A numeric Arrow array on ``values``' buffer; rows where ``valid`` is False are null."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    validity = None if valid is None or valid.all() else _bits(valid)
    return pa.Array.from_buffers(kind, values.size, [validity, pa.py_buffer(values)])


def text_array(values: Sequence[str | None] | np.ndarray) -> pa.Array:
    """Texts (None: null) as an Arrow string array."""
    import pyarrow as pa

    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    valid = np.array([v is not None for v in items], dtype=np.bool_)
    data = [v.encode() if v is not None else b"" for v in items]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    if offsets[-1] < 2**31:
        offsets, kind = offsets.astype(np.int32), pa.string()
    else:
        kind = pa.large_string()
    validity = None if valid.all() else _bits(valid)
    return pa.Array.from_buffers(kind, len(data), [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def numbers_text(values: np.ndarray) -> pa.Array:
    """Whole numbers >= 0 as an Arrow string array of their decimal digits (``7`` -> ``"7"``).

    Built digit by digit in numpy: a million row numbers cost a few megabytes, not a
    Python string each.
    """
    import pyarrow as pa

    values = np.asarray(values, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("numbers_text takes whole numbers >= 0")
    powers = 10 ** np.arange(1, 19, dtype=np.int64)
    digits = 1 + np.searchsorted(powers, values, side="right")
    offsets = np.zeros(values.size + 1, dtype=np.int64)
    np.cumsum(digits, out=offsets[1:])
    width = int(digits.max()) if values.size else 0
    grid = np.empty((values.size, width), dtype=np.uint8)  # each number right-aligned, zero-padded
    for j in range(width):
        grid[:, width - 1 - j] = ord("0") + (values // 10**j) % 10
    data = grid[np.arange(width) >= width - digits[:, None]]  # row by row, without the padding
    kind = pa.string() if offsets[-1] < 2**31 else pa.large_string()
    offsets = offsets.astype(np.int32) if kind == pa.string() else offsets
    return pa.Array.from_buffers(kind, values.size, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def arrow_numbers(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column (nulls: NaN) as one numpy float or int array, without pandas."""
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        dtype = np.dtype(chunk.type.to_pandas_dtype())
        validity, data = chunk.buffers()[:2]
        values = np.frombuffer(data, dtype=dtype, count=len(chunk) + chunk.offset)[chunk.offset :]
        if validity is not None and chunk.null_count:
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            values = np.where(valid[chunk.offset : chunk.offset + len(chunk)].astype(bool), values, np.nan)
        parts.append(values)
    if not parts:
        return np.zeros(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def arrow_coded(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary-encoded Arrow text column as codes (int32) and names, the chunks' dictionaries merged.

    Names are in order of first appearance.
    """
    names: list[str] = []
    index: dict[str, int] = {}
    parts = []
    for chunk in column.chunks:
        local = chunk.dictionary.to_pylist()
        remap = np.array([index.setdefault(v, len(index)) for v in local] or [0], dtype=np.int32)
        names[len(names) :] = list(index)[len(names) :]
        parts.append(remap[arrow_numbers(chunk.indices).astype(np.int64)])
    if not parts:
        return np.zeros(0, dtype=np.int32), names
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), names
