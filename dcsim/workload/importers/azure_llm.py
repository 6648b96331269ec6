"""An LLM inference request trace (Azure LLM inference trace 2023/2024) -> a request trace and a serving scenario.

The Azure traces (Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase
Splitting", ISCA'24; github.com/Azure/AzurePublicDataset, ``AzureLLMInferenceTrace_code.csv``
and ``_conv.csv``) have one request per row: ``TIMESTAMP`` (written
``2023-11-16 18:15:46.6805900``), ``ContextTokens`` (the prompt) and ``GeneratedTokens``
(the answer). Any CSV with these three columns is read the same way.

Written: ``requests.csv`` (``time_s`` from the first request, ``input_tokens``,
``output_tokens``, in time order) and ``azure_llm.yaml``: one service replaying it on a
stated default fleet (8-GPU H100 replicas of a 70B model, prefill and decode speeds of
``scenarios/serving_autoscale.yaml``) for the trace's span, for the user to edit. Dropped,
by reason: requests without a time or a token count, and requests that generated no token
(a token model serves at least one).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from dcsim.core.errors import TraceError
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import csv_rows, number, timestamp, write_scenario

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@importer(
    "azure_llm",
    "REQUEST_TRACE",
    "an LLM inference request trace: Azure LLM inference trace 2023/2024 (TIMESTAMP, ContextTokens, "
    "GeneratedTokens) -> requests.csv and azure_llm.yaml (a service that replays it)",
)
def import_azure_llm(files: Sequence[Path], out: Path) -> ImportReport:
    """Convert a request trace with prompt and output tokens into a request trace CSV and a serving scenario."""
    report = ImportReport("azure_llm")
    path = files[0]
    rows: list[tuple[float, int, int]] = []
    for line, row in csv_rows(path, COLUMNS, "an LLM request trace (TIMESTAMP, ContextTokens, GeneratedTokens)"):
        report.read += 1
        when = timestamp(row["TIMESTAMP"], path, line, "column 'TIMESTAMP'")
        tokens = [number(row[c], path, line, c, whole=True) for c in COLUMNS[1:]]
        for c, k in zip(COLUMNS[1:], tokens, strict=True):
            if k is not None and k < 0:
                raise TraceError(f"{path} line {line}: column {c!r} is {row[c]!r}; it must be a whole number >= 0")
        inp, gen = tokens
        if when is None or inp is None or gen is None:
            report.dropped["no time or token count recorded"] += 1
        elif gen == 0:
            report.dropped["generated no token (GeneratedTokens 0)"] += 1
        else:
            rows.append((when, int(inp), int(gen)))
    if not rows:
        raise TraceError(f"{path}: no request to replay (every row was dropped); give an LLM request trace")
    rows.sort(key=lambda r: r[0])
    t0 = rows[0][0]
    report.kept = len(rows)
    written = out / "requests.csv"
    with open(written, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["time_s", "input_tokens", "output_tokens"])
        writer.writerows((round(t - t0, 6), i, o) for t, i, o in rows)
    span = rows[-1][0] - t0
    horizon = max(60, math.ceil(span / 60) * 60 + 60)  # whole minutes, one past the last request
    rate = len(rows) / span if span > 0 else float(len(rows))
    report.notes.append(f"{len(rows):,} requests over {span:,.1f} s ({rate:,.3g} per second on average); the "
                        f"scenario's horizon is {horizon // 60:,} min")  # fmt: skip
    report.notes.append("the fleet (8-GPU H100 replicas of a 70B model, prefill and decode speeds) is a default: "
                        "edit `datacenter` and `services` to the model and GPUs you study")  # fmt: skip
    comment = f"""\
{path.name}, imported by `dcsim import azure_llm`: {len(rows):,} requests (arrival time, prompt
and output tokens) replayed to one service over {span / 60:,.1f} minutes.
Question: what latency does this traffic see on this fleet, and how many replicas does it
need? The fleet is a stated default, not from the trace: a 70B model on 8-GPU H100
replicas (prefill 30,000 tokens/s, decode 6 ms per token in batches of up to 24, as
scenarios/serving_autoscale.yaml); edit `datacenter` and `services.0` (model, GPUs, speeds,
replicas, autoscaler). Size the fleet by its p99 latency with e.g.
  dcsim plan azure_llm.yaml --vary services.0.replicas.initial --min 1 --max 8 \\
    --set services.0.autoscaler=none --target 'services.p99_latency_s<=2s' --replications 2"""
    scenario = {
        "name": "azure_llm",
        "description": f"{path.name}: LLM inference requests replayed to one service",
        "seed": 1,
        "horizon": f"{horizon}s",
        "datacenter": {
            "sites": [{"name": "dc1", "racks": 2, "nodes_per_rack": 4, "node": {"gpus": 8, "gpu_type": "H100"}}]
        },
        "services": [
            {
                "name": "llm",
                "model": {"name": "llm-70b"},
                "gpus_per_replica": 8,
                "replicas": {"min": 1, "max": 8, "initial": 2},
                "requests": {
                    "arrival": {
                        "process": "trace",
                        "path": written.name,
                        "time": "time_s",
                        "input_tokens": "input_tokens",
                        "output_tokens": "output_tokens",
                    }
                },
                "service_model": {
                    "prefill": "30000/s",
                    "decode": {"per_token": "6ms", "max_batch": 24, "batch_penalty": 0.05},
                },
                "queue_limit": 256,
                "load_balancer": "power_of_two",
                "autoscaler": {"policy": "hpa", "metric": "concurrency", "target": 14, "scale_down_window": "5m"},
            }
        ],
    }
    report.written += [write_scenario(out / "azure_llm.yaml", comment, scenario), written]
    return report
