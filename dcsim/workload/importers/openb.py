"""The openb importer: Alibaba's cluster-trace-gpu-v2023 node list and pod list to a fill study.

``dcsim import openb NODES.csv PODS.csv --out DIR`` writes into ``DIR``:

- ``openb.yaml``: the FGD study's experiment (Weng et al., "Beware of Fragmentation",
  ATC'23, Figure 9a) on that cluster: the datacenter from the node list (runs of identical
  nodes as rack groups, GPU types as the trace names them, each node's CPU and memory, in
  the list's order), ``workload.fill`` with the pod list (``until: 1.3``, pods sampled as the
  authors' runs do), placement ``fgd`` and a ``sweep`` over the study's six policies;
- the pod list it read, byte for byte, beside it (the scenario names it).

The trace does not say how nodes sit in racks: each run of identical consecutive nodes is one
rack group of one rack, so node ids keep the node list's order (placement rules break ties by
the lowest node id, and the order changes which node a tie picks); a fill run reads no
fabric. Every node and pod is kept; pods that ask for GPU types the node list lacks, or that
fit no node, are kept too (they fail in the run) and counted in the notes.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from dcsim.core.csvtext import read_csv_text
from dcsim.core.errors import TraceError
from dcsim.infra.shares import WHOLE
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.openb import NODE_COLUMNS, POD_COLUMNS, OpenbNode, OpenbPods, read_nodes, read_pods

POLICIES = ("random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit", "fgd")
"""The FGD study's six placement policies, as dcsim names them."""
SCENARIO = "openb.yaml"
"""The scenario file the importer writes."""


def _memory(mib: int) -> str:
    """MiB as the scenario writes a size: GiB when whole, else MiB."""
    return f"{mib // 1024}GiB" if mib % 1024 == 0 else f"{mib}MiB"


def _cores(milli: int) -> str:
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli / 1000:g}"


def _which(paths: Sequence[Path]) -> tuple[Path, Path]:
    """(node list, pod list) among the two files, told apart by their headers."""
    if len(paths) != 2:
        raise TraceError(f"openb takes two files, a node list and a pod list; {len(paths)} given")
    kinds = []
    for path in paths:
        columns = set(read_csv_text(str(path)).columns)
        if set(NODE_COLUMNS) <= columns:
            kinds.append("nodes")
        elif set(POD_COLUMNS) <= columns:
            kinds.append("pods")
        else:
            raise TraceError(
                f"{path}: neither an openb node list ({','.join(NODE_COLUMNS)}) nor a pod list "
                f"({','.join(POD_COLUMNS)},...) by its header"
            )
    if kinds.count("nodes") != 1:
        raise TraceError(f"give one node list and one pod list; {paths[0]} and {paths[1]} are both {kinds[0]} lists")
    nodes, pods = (paths[0], paths[1]) if kinds[0] == "nodes" else (paths[1], paths[0])
    return nodes, pods


def node_runs(nodes: Sequence[OpenbNode]) -> list[tuple[tuple[int, int, int, str], int]]:
    """Runs of identical consecutive nodes, in the list's order: ((cpu, memory, gpus, model), count)."""
    out: list[tuple[tuple[int, int, int, str], int]] = []
    for n in nodes:
        kind = (n.cpu, n.memory, n.gpus, n.model)
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + 1)
        else:
            out.append((kind, 1))
    return out


def scenario_text(nodes: Sequence[OpenbNode], pods: OpenbPods, node_file: str, pod_file: str) -> str:
    """The study's scenario for these nodes and pods, with a header stating the question."""
    runs = node_runs(nodes)
    gpus = sum(n.gpus for n in nodes)
    share = pods.gpu_total / (gpus * WHOLE) if gpus else 0.0
    lines = [
        "# Which placement policy allocates the most GPUs when GPU-sharing pods arrive and stay until their",
        '# requests reach 130 % of GPU capacity? The FGD study (Weng et al., "Beware of Fragmentation", ATC\'23,',
        "# Figure 9a) on Alibaba's openb cluster: FGD, BestFit, GpuPacking, GpuClustering, DotProd, Random.",
        f"# Written by `dcsim import openb` from {node_file} ({len(nodes):,} nodes, {gpus:,} GPUs) and",
        f"# {pod_file} ({len(pods):,} pods asking for {100 * share:.1f} % of the GPUs).",
        "# Run one policy: dcsim run openb.yaml; the six: dcsim sweep openb.yaml (plots/fill_allocation.png).",
        "# Edit: fill.until (the arrived share to stop at), fill.trace.order (sampled: shuffled then drawn",
        "# with replacement, as the authors' runs; trace: the file's order), sweep.replications.",
        "name: openb",
        'description: "FGD study on openb: GPU allocation rate against arrived workload, per placement policy"',
        "seed: 42",
        "datacenter:",
        "  sites:",
        "    - name: openb",
        "      # The node list in its order (node ids as the trace's, which placement ties follow): each run of",
        "      # identical nodes is one rack group of one rack (the trace gives no racks; a fill reads no fabric).",
        "      rack_groups:",
    ]
    for (cpu, memory, g, model), count in runs:
        node = f"gpus: {g}, gpu_type: {model}, " if g else "gpus: 0, "
        lines.append(f"        - {{racks: 1, nodes_per_rack: {count}, node: {{{node}cpu: {_cores(cpu)}, "
                     f"memory: {_memory(memory)}}}}}")  # fmt: skip
    lines += [
        "workload:",
        "  fill:",
        "    until: 1.3",
        f"    trace: {{path: {pod_file}, format: openb, order: sampled}}",
        "policies:",
        "  placement: fgd",
        "sweep:  # the study's six policies, 10 seeds each as the authors' runs",
        f"  policies: {{placement: [{', '.join(POLICIES)}]}}",
        "  replications: 10",
        "",
    ]
    return "\n".join(lines)


@importer("openb", "NODE_LIST.csv POD_LIST.csv", "Alibaba cluster-trace-gpu-v2023 (openb): the FGD study's fill")
def import_openb(files: Sequence[Path], out_dir: Path) -> ImportReport:
    """Read an openb node list and pod list; write the study's scenario and the pod list into ``out_dir``.

    Raises:
        TraceError: not one node list and one pod list, or a bad row (naming file and line).
    """
    node_path, pod_path = _which([Path(f) for f in files])
    nodes = read_nodes(str(node_path))
    pods = read_pods(str(pod_path))
    report = ImportReport("openb", read=len(nodes) + len(pods), kept=len(nodes) + len(pods))
    types = {n.model for n in nodes if n.gpus}
    absent = Counter(t for spec in pods.gpu_spec if spec for t in spec if t not in types)
    if absent:
        report.notes.append(f"pods name GPU types the node list lacks: {dict(sorted(absent.items()))}")
    biggest = max((n.gpus for n in nodes), default=0)
    too_big = int((pods.gpus > biggest).sum())
    if too_big:
        report.notes.append(f"{too_big:,} pod(s) ask for more GPUs than any node has ({biggest}): they fail in a run")
    report.notes.append(
        f"{len(nodes):,} nodes of {len({(n.cpu, n.memory, n.gpus, n.model) for n in nodes})} kinds in "
        f"{len(node_runs(nodes))} rack groups (runs of identical nodes, in the list's order); "
        f"{len(pods):,} pods ({int((pods.gpus == 0).sum()):,} CPU-only, "
        f"{int(((pods.gpus == 1) & (pods.gpu_milli < WHOLE)).sum()):,} sharing a GPU)"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    pod_copy = out_dir / pod_path.name
    if pod_copy.exists() and pod_copy.samefile(pod_path):
        raise TraceError(f"{pod_path}: --out is the pod list's own folder; give another")
    shutil.copyfile(pod_path, pod_copy)
    scenario = out_dir / SCENARIO
    scenario.write_text(scenario_text(nodes, pods, node_path.name, pod_path.name), encoding="utf-8")
    report.written += [scenario, pod_copy]
    return report


__all__ = ["POLICIES", "SCENARIO", "import_openb", "scenario_text"]
