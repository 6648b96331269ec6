"""Alibaba's cluster-trace-gpu-v2023 ("openb") node and pod lists, the FGD study's trace.

The trace (Weng et al., "Beware of Fragmentation", ATC'23; alibaba/clusterdata,
``cluster-trace-gpu-v2023/csv``) has a node list (``sn, cpu_milli, memory_mib, gpu, model``)
and pod lists (``name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase,
creation_time, deletion_time, scheduled_time``; the ``multigpu*`` lists carry the first five
columns only). Units are the trace's: milli-CPU, MiB, milli-GPU, the units of
:class:`dcsim.infra.shares.Demand`.

A pod asks for ``num_gpu`` GPUs of ``gpu_milli`` each: 0 GPUs (CPU-only, ``gpu_milli`` 0),
one GPU or a share of one (``num_gpu`` 1, ``gpu_milli`` 1 to 1000), or several whole GPUs
(``gpu_milli`` 1000). ``gpu_spec`` lists the GPU types it may use, separated by ``|``
(empty: any). Every row is checked; the first bad one is a TraceError naming the file and
line (header = line 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dcsim.core.csvtext import read_csv_text
from dcsim.core.errors import TraceError
from dcsim.infra.shares import WHOLE, Demand

if TYPE_CHECKING:
    import pandas as pd

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
"""The node list's columns."""
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
"""The pod list's columns that dcsim reads (``gpu_spec`` too when present)."""
MAX_GPUS = 64
"""GPUs per node or pod above which a row is taken for a typo."""


@dataclass(frozen=True)
class OpenbNode:
    """One node of the node list: milli-CPU, MiB, GPUs and GPU type ('' for a node without GPUs)."""

    name: str
    cpu: int
    memory: int
    gpus: int
    model: str


@dataclass
class OpenbPods:
    """A pod list, column-wise (row i of the file is entry i; its line is ``i + 2``).

    Attributes:
        path: the file, for messages.
        name: pod names.
        cpu: milli-CPU per pod.
        memory: MiB per pod.
        gpus: GPUs per pod (0: CPU-only).
        gpu_milli: milli-GPU on each of them (0 with no GPU, 1000 for whole GPUs).
        gpu_spec: allowed GPU types per pod (None: any).
    """

    path: str
    name: list[str]
    cpu: np.ndarray
    memory: np.ndarray
    gpus: np.ndarray
    gpu_milli: np.ndarray
    gpu_spec: list[tuple[str, ...] | None]

    def __len__(self) -> int:
        return len(self.name)

    def demand(self, i: int) -> Demand:
        """Pod ``i`` as a :class:`Demand`."""
        return Demand(int(self.cpu[i]), int(self.memory[i]), int(self.gpus[i]), int(self.gpu_milli[i]))

    def demands(self) -> list[Demand]:
        """Every pod as a :class:`Demand`, in file order."""
        return [
            Demand(c, m, g, k)
            for c, m, g, k in zip(
                self.cpu.tolist(), self.memory.tolist(), self.gpus.tolist(), self.gpu_milli.tolist(), strict=True
            )
        ]

    @property
    def gpu_total(self) -> int:
        """Milli-GPU the pods ask for in all."""
        return int((self.gpus * self.gpu_milli).sum())


def _columns(frame: pd.DataFrame, path: str, wanted: tuple[str, ...], what: str) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise TraceError(
            f"{path}: no column {', '.join(map(repr, missing))}; an openb {what} has the header "
            f"{','.join(wanted)} (the file's: {','.join(frame.columns)})"
        )
    if not len(frame):
        raise TraceError(f"{path}: the file has a header line but no rows")


def _integers(frame: pd.DataFrame, path: str, column: str, unit: str, top: int | None = None) -> np.ndarray:
    """Column ``column`` as non-negative integers; the first bad value raises naming its line."""
    import pandas as pd

    text = frame[column]
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
    if top is not None:
        bad |= values > top
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        limit = f" up to {top}" if top is not None else ""
        raise TraceError(
            f"{path} line {row + 2}: column {column!r} is {text.iloc[row]!r}; give a whole number{limit} >= 0 ({unit})"
        )
    return values.astype(np.int64)


def read_nodes(path: str) -> list[OpenbNode]:
    """The nodes of an openb node list, in file order.

    Raises:
        TraceError: a missing file or column, or a bad row (naming its line).
    """
    frame = read_csv_text(path)
    _columns(frame, path, NODE_COLUMNS, "node list")
    cpu = _integers(frame, path, "cpu_milli", "milli-CPU")
    memory = _integers(frame, path, "memory_mib", "MiB")
    gpus = _integers(frame, path, "gpu", "GPUs", MAX_GPUS)
    names = frame["sn"].tolist()
    models = frame["model"].tolist()
    out = []
    for i, (name, model) in enumerate(zip(names, models, strict=True)):
        model = "" if model.lower() in ("", "nan") else model
        if gpus[i] and not model:
            raise TraceError(f"{path} line {i + 2}: node {name!r} has {gpus[i]} GPUs but no model; give its GPU type")
        if cpu[i] == 0:
            raise TraceError(f"{path} line {i + 2}: node {name!r} has cpu_milli 0; give its CPU in milli-CPU")
        out.append(OpenbNode(name, int(cpu[i]), int(memory[i]), int(gpus[i]), model if gpus[i] else ""))
    return out


def read_pods(path: str) -> OpenbPods:
    """The pods of an openb pod list, in file order.

    Raises:
        TraceError: a missing file or column, or a bad row (naming its line): a negative or
            fractional number, ``gpu_milli`` outside 1..1000 for one GPU, not 1000 for several,
            not 0 for none.
    """
    frame = read_csv_text(path)
    _columns(frame, path, POD_COLUMNS, "pod list")
    cpu = _integers(frame, path, "cpu_milli", "milli-CPU")
    memory = _integers(frame, path, "memory_mib", "MiB")
    gpus = _integers(frame, path, "num_gpu", "GPUs", MAX_GPUS)
    milli = _integers(frame, path, "gpu_milli", "milli-GPU", WHOLE)
    wrong = ((gpus == 0) & (milli != 0)) | ((gpus == 1) & (milli == 0)) | ((gpus > 1) & (milli != WHOLE))
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        g, m = int(gpus[row]), int(milli[row])
        need = "0 (no GPU)" if g == 0 else "1 to 1000 (a share of the GPU, or all of it)" if g == 1 else "1000"
        raise TraceError(
            f"{path} line {row + 2}: num_gpu {g} with gpu_milli {m}; with num_gpu {g}, gpu_milli is {need}"
        )
    specs: list[tuple[str, ...] | None] = [None] * len(frame)
    if "gpu_spec" in frame.columns:
        for i, text in enumerate(frame["gpu_spec"].tolist()):
            if text and text.lower() != "nan":
                specs[i] = tuple(dict.fromkeys(t.strip() for t in text.split("|") if t.strip())) or None
    return OpenbPods(path, frame["name"].tolist(), cpu, memory, gpus, milli, specs)


__all__ = ["NODE_COLUMNS", "POD_COLUMNS", "OpenbNode", "OpenbPods", "read_nodes", "read_pods"]
