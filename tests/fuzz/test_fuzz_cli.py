"""Property-based fuzzing of the scenario schema and the command line.

Valid scenarios (the quick start, the tiny one of conftest, one with failures, repair,
maintenance and data files, a job trace) are mutated: values replaced by edge values
(0, -1, 1e308, '1e400/s', .inf, .nan, huge integers, wrong units, 100,000-character
strings, lists, mappings, None), keys deleted or added, values wrapped in lists, or raw
YAML put in place (``!!int 1.5``, a 5,000-digit integer, nesting 2,000 deep). Command
arguments are fuzzed the same way. Each case runs ``dcsim.cli.main`` in-process in a
fresh folder, and must:

* exit 0 or 2 (argparse's own usage errors are 2), with no traceback, no Python or
  pydantic wording and no line longer than 400 characters on stderr;
* on exit 2, leave the folder exactly as it was (nothing written);
* on exit 0, write a summary.json whose every number is finite and in its range
  (counts, durations, costs >= 0; shares, utilizations and ETTR in [0, 1]).

The settings are fixed (``derandomize``: the same cases on every run) so that the suite
runs in CI within about a minute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dcsim.cli import main

from conftest import ROOT, tiny_data

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Wording a user cannot act on: Python's and pydantic's.
LEAKS = (
    "Traceback", "Error:", "Warning:", "Input should be", "Extra inputs are not permitted", "unhashable type",
    "object has no attribute", "NoneType", "validation error for", "Field required", "got an unexpected keyword",
    "invalid literal", "could not convert", "Exceeds the limit", "maximum recursion", "takes no arguments",
    "positional argument", "pydantic", "errors.pydantic.dev", "[type=",
)  # fmt: skip
MAX_LINE = 400
MAX_LINES = 40

# ----------------------------------------------------------------------------------- base scenarios
FAILURES_CSV = "time,component,duration\n3600,node:0,1800\n7200,rack:1,3600\n"
REPAIR_CSV = "hours\n1\n2\n3.5\n"
DATA_FILES = {"failures.csv": FAILURES_CSV, "repair.csv": REPAIR_CSV}


def _quickstart() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8"))
    data["horizon"], data["warmup"] = "1d", "2h"  # short runs
    data["datacenter"]["sites"][0]["racks"] = 2
    return data


def _reliable() -> dict[str, Any]:
    data = tiny_data(horizon="2d", warmup="1h")
    data["workload"]["jobs"] = [
        {"name": "train", "arrival": {"process": "poisson", "rate": "2/h"},
         "gpus": {"values": [1, 8, 16], "weights": [5, 3, 1]},
         "duration": {"dist": "weibull", "shape": 0.9, "mean": "3h"},
         "checkpoint": {"interval": "30m", "write": "1m", "restart": "5m"}, "estimate_error": 0.3},
        {"name": "batch", "arrival": {"process": "batch", "at": "4h"}, "count": 3, "gpus": 4,
         "duration": {"dist": "exponential", "mean": "1h"}, "priority": 2},
    ]  # fmt: skip
    data["failures"] = {
        "gpu": {"mtbf": "500h"},
        "node": {"dist": "weibull", "shape": 0.8, "afr": 20},
        "causes": [{"name": "nic", "component": "node", "dist": "lognormal", "sigma": 1.0, "mtbf": "300h"}],
        "trace": {"path": "failures.csv", "mode": "add"},
        "max_restarts": 5,
    }
    data["repair"] = {
        "policy": "most_gpus_first", "technicians": 1,
        "working_hours": {"start": "8h", "end": "18h", "days": "weekdays"},
        "reboot": {"share": 0.4, "time": "10m"},
        "time": {"dist": "empirical", "path": "repair.csv", "column": "hours", "unit": "h"},
        "spares": {"nodes": 1, "parts": 3, "restock": "1d"},
    }  # fmt: skip
    data["maintenance"] = [{"start": "6h", "duration": "1h", "scope": "rack", "every": "1d", "drain": "evict"}]
    data["policies"] = {"scheduler": {"name": "fifo", "params": {"backfill": True}}, "placement": "best_fit"}
    data["costs"] = {"gpu_hour_usd": {"H100": 2.5, "*": 2.0}, "electricity_usd_per_kwh": 0.12, "pue": 1.2}
    data["metrics"] = {"sample_interval": "10m"}
    return data


def _trace() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / "trace_replay.yaml").read_text(encoding="utf-8"))
    data["workload"]["trace"]["columns"]["job_id"] = "job_id"
    return data


BASES = {"quickstart": _quickstart(), "tiny": tiny_data(), "reliable": _reliable(), "trace": _trace()}
DATA_FILES["trace_replay.csv"] = (ROOT / "scenarios" / "trace_replay.csv").read_text(encoding="utf-8")

# ----------------------------------------------------------------------------------- values
LONG = "x" * 100_000
EDGE_VALUES: list[Any] = [
    0, -1, 1, 2, 0.5, -0.0, 1e308, -1e308, 5e-324, 1e-9, 1e9, math.inf, -math.inf, math.nan,
    2**31, 2**63, 2**64 + 1, 10**30, 10**300,
    "", " ", "0", "-1", "1e400/s", "1e400", "inf", "nan", ".inf", "1e9", "1e308d", "6/h", "0/h", "1/0s", "-5m",
    "1e-9s", "2h", "700W", "1.2kW", "400Gbps", "500GB", "80GB/s", "3M", "1 parsec", "h", "/h", "10/", "5 / h",
    LONG, "a" * 300, "fifo", "sjf", "best_fit", "os:system", "numpy:ndarray", "..:X", "/etc", "..", "a/../../b",
    "poisson", "lognormal", "young_daly", "H100", "node:0",
    None, True, False, [], {}, [1, 2], [[[]]], {"a": {"b": {"c": 1}}}, [0] * 20_000,
    {"dist": "fixed", "value": "1h"}, {"values": [1, 2], "weights": [math.inf, 1]},
    {"values": [1, 2], "weights": [math.nan, 1]}, {"process": "poisson", "rate": 1e9},
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(EDGE_VALUES).map(copy.deepcopy),  # a copy: mutations must not change the list
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
#: Raw YAML put in place of a value: what PyYAML reads in its own ways.
RAW_YAML = [
    "!!int 1.5", "!!float x", "!!int " + "9" * 50, "7" * 5_000, "0x" + "f" * 4_000, "[" * 2_000 + "]" * 2_000,
    "{a: " * 150 + "1" + "}" * 150, ".inf", "-.inf", ".nan", "1e400", "'1e400/s'", "2024-13-45", "2024-01-01",
    "!!binary AAAA", "&loop [1, *loop]", "*nowhere", "!!python/object:os.system ls", "{[1]: 2}", "!!set {a, b}",
    "'unterminated", "~", "''", "yes", "0o17", "1_000", "12:30:00", "!!str 5", "!!timestamp x",
]  # fmt: skip
FACTORS = [0, -1, 1e-9, 1e-3, 0.5, 2, 10, 1e3, 1e6, 1e9, 1e300]
"""Scalings of a number in place: the value stays of its kind (a duration stays a duration)."""
UNKNOWN_KEYS = ["foo", "nmae", "Rate", "rate ", "x" * 300, "1", "dist", "process", "values"]
_MARK = "@@raw{}@@"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in the data (mapping values and list items), outermost first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(node, list) and key > 5:  # long lists: their first items stand for the rest
            break
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _scaled(value: Any, factor: float) -> Any:
    """``value`` (a number, or a number with a unit such as '2h') times ``factor``; other values as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return type(value)(value * factor) if math.isfinite(value * factor) else value * factor
    match = re.fullmatch(r"([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)(.*)", value) if isinstance(value, str) else None
    return f"{float(match[1]) * factor:g}{match[2]}" if match else value


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> str:
    """YAML text of ``base`` after one to three mutations."""
    data = copy.deepcopy(base)
    raw: dict[str, str] = {}
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        op = draw(st.sampled_from(["replace", "replace", "scale", "scale", "delete", "unknown", "wrap", "raw"]))
        if op == "replace":
            parent[key] = draw(VALUES)
        elif op == "scale":
            parent[key] = _scaled(parent[key], draw(st.sampled_from(FACTORS)))
        elif op == "delete":
            del parent[key]
        elif op == "unknown":
            target = parent[key] if isinstance(parent[key], dict) else parent if isinstance(parent, dict) else None
            if target is not None:
                target[draw(st.sampled_from(UNKNOWN_KEYS))] = draw(VALUES)
        elif op == "wrap":
            parent[key] = [parent[key]]
        else:
            mark = _MARK.format(len(raw))
            raw[mark] = draw(st.sampled_from(RAW_YAML))
            parent[key] = mark
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**9)
    for mark, snippet in raw.items():
        text = text.replace(f"'{mark}'", snippet).replace(mark, snippet)
    return text


# ----------------------------------------------------------------------------------- running
def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size if p.is_file() else -1 for p in folder.rglob("*")}


def _flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flat(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _flat(value, f"{prefix}{i}.")
    else:
        yield prefix[:-1], node


def check_summary(summary: dict[str, Any]) -> None:
    """Every number of a summary finite and in its range."""
    for name, value in _flat(summary):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        assert math.isfinite(value), f"{name} = {value}"
        assert value >= 0, f"{name} = {value} < 0"
        leaf = name.rsplit(".", 1)[-1]
        if name.startswith("utilization.") or "share" in leaf or leaf == "ettr":
            assert value <= 1, f"{name} = {value} > 1"
    jobs = summary["jobs"]
    ends = jobs["completed"] + jobs["failed"] + jobs["running_at_end"] + jobs["queued_at_end"]
    assert jobs["submitted"] == ends, f"jobs: {jobs}"


def dcsim(argv: list[str], files: dict[str, str] | None = None) -> tuple[int, str, str, Path]:
    """Run the CLI in-process in a fresh folder holding ``files``; check what every run must hold.

    Returns the exit status, stdout, stderr and the folder (deleted at the end of the test).
    """
    folder = Path(tempfile.mkdtemp(prefix="dcsim-fuzz-"))
    for name, text in {**DATA_FILES, **(files or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    before = _listing(folder)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(folder),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    stderr = err.getvalue()
    shown = f"dcsim {' '.join(a[:80] for a in argv)}\nexit {code}\nstderr:\n{stderr[:3000]}"
    assert code in (0, 2), shown
    event(f"exit {code}")
    assert not [w for w in caught if not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning)], (
        f"{shown}\nwarnings: {[str(w.message)[:200] for w in caught]}"
    )
    for leak in LEAKS:
        assert leak not in stderr, f"{leak!r} in stderr\n{shown}"
    lines = stderr.splitlines()
    assert len(lines) <= MAX_LINES, shown
    assert all(len(line) <= MAX_LINE for line in lines), shown
    if code == 2:
        assert _listing(folder) == before, f"exit 2 but the folder changed\n{shown}"
    return code, out.getvalue(), stderr, folder


def check_run(argv: list[str], files: dict[str, str]) -> None:
    """Run one command; on a successful run, check the summary it wrote."""
    code, _, _, folder = dcsim(argv, files)
    try:
        if code == 0 and argv[0] == "run":
            written = list(folder.rglob("summary.json"))
            assert len(written) == 1, f"dcsim {' '.join(argv)}: summary.json written {len(written)} times"
            check_summary(json.loads(written[0].read_text(encoding="utf-8")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------- the properties
def _scenario_case(name: str) -> Any:
    return st.tuples(mutated(BASES[name]), st.sampled_from(["run", "run", "run", "validate"]))


def _fuzz_scenario(case: tuple[str, str]) -> None:
    text, command = case
    argv = [command, "s.yaml"] + (["--out", "res", "--quiet"] if command == "run" else [])
    check_run(argv, {"s.yaml": text})


def _edit(base: str, path: str, value: str) -> str:
    """YAML text of a base scenario with one value at ``path`` written as raw YAML."""
    data = copy.deepcopy(BASES[base])
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    _parent(data, tuple(keys))[keys[-1]] = _MARK.format(0)
    return yaml.safe_dump(data, sort_keys=False).replace(f"'{_MARK.format(0)}'", value)


SITES_20000 = "[" + ", ".join(f"{{name: s{i}, racks: 1, nodes_per_rack: 1}}" for i in range(20_000)) + "]"
#: The concrete cases of the issue, each run on every base scenario where it applies.
ISSUE_CASES = [
    ("quickstart", "workload.jobs.0.duration.sigma", "1e308"),
    ("quickstart", "workload.jobs.0.arrival.rate", "1e400/s"),
    ("quickstart", "workload.jobs.0.arrival.rate", "1e9"),
    ("quickstart", "workload.jobs.0.gpus.weights", "[.inf, 1]"),
    ("quickstart", "workload.jobs.0.gpus.weights", "[.nan, 1]"),
    ("quickstart", "seed", "9" * 5_000),
    ("quickstart", "datacenter.sites.0.racks", "!!int 1.5"),
    ("quickstart", "description", "[" * 2_000 + "]" * 2_000),
    ("quickstart", "metrics", "{sample_interval: 1e-9s}"),
    ("quickstart", "name", "x" * 100_000),
    ("tiny", "datacenter.sites", SITES_20000),
    ("reliable", "failures.causes.0.sigma", "1e308"),
    ("reliable", "failures.node.shape", "1e-300"),
    ("reliable", "failures.gpu.mtbf", "1e-9s"),
    ("reliable", "maintenance.0.every", "1e-9s"),
    ("reliable", "costs.gpu_hour_usd.H100", ".inf"),
    ("trace", "workload.trace.columns.gpus", "[1, 2]"),
]  # fmt: skip


def _with_examples(cases: list[tuple[str, str, str]], base: str) -> Any:
    def decorate(test: Any) -> Any:
        for name, path, value in cases:
            if name == base:
                test = example((_edit(name, path, value), "run"))(test)
        return test

    return decorate


@FUZZ
@_with_examples(ISSUE_CASES, "quickstart")
@given(_scenario_case("quickstart"))
def test_fuzz_quickstart(case: tuple[str, str]) -> None:
    _fuzz_scenario(case)


@FUZZ
@_with_examples(ISSUE_CASES, "tiny")
@given(_scenario_case("tiny"))
def test_fuzz_tiny(case: tuple[str, str]) -> None:
    _fuzz_scenario(case)


@FUZZ
@_with_examples(ISSUE_CASES, "reliable")
@given(_scenario_case("reliable"))
def test_fuzz_reliability(case: tuple[str, str]) -> None:
    _fuzz_scenario(case)


@FUZZ
@_with_examples(ISSUE_CASES, "trace")
@given(_scenario_case("trace"))
def test_fuzz_trace(case: tuple[str, str]) -> None:
    _fuzz_scenario(case)


# ----------------------------------------------------------------------------------- arguments
NUMBERS = st.sampled_from(
    ["0", "1", "2", "-1", "3", "4294967296", "18446744073709551616", "9223372036854775807", "1e3", "1.5", "x", "",
     " ", "inf", "nan", "1e400", "-0", "0x10", "1" * 5_000, "1_000"]
)  # fmt: skip
LISTS = st.lists(NUMBERS, max_size=4).map(",".join) | st.sampled_from(["1,1", ",", "1,,2", "0,1e400", "nan,1"])
_TINY_PATHS = [".".join(map(str, p)) for p in _paths(BASES["tiny"])] + ["", ".", "a..b", "workload.jobs.9.count"]
OVERRIDES = st.builds(
    lambda path, value, eq: f"{path}{eq}{value}",
    st.sampled_from(_TINY_PATHS),
    st.sampled_from([str(v)[:200] for v in EDGE_VALUES if not isinstance(v, dict | list)] + RAW_YAML[:12] + [LONG]),
    st.sampled_from(["=", "=", ""]),
)
OUTS = st.sampled_from(
    ["res", "res/sub", "res/../res2", "x" * 300, "res/" + "y" * 300, "", ".", "s.yaml", "s.yaml/sub", "res.csv",
     "-", "a b", "failures.csv"]
)  # fmt: skip


@st.composite
def arguments(draw: st.DrawFn) -> list[str]:
    """A command line of run, validate, compare or allocate with fuzzed arguments."""
    command = draw(st.sampled_from(["run", "run", "validate", "compare", "allocate"]))
    if command == "allocate":
        argv = ["allocate", "alloc.yaml"]
        for flag, values in [("--lambda", NUMBERS), ("--lambda-sweep", LISTS), ("--out", OUTS), ("--csv", OUTS)]:
            if draw(st.booleans()):
                argv += [flag, draw(values)]
        if draw(st.booleans()):
            argv.append("--json")
        return argv
    argv = [command, "s.yaml"]
    for _ in range(draw(st.integers(0, 2))):
        argv += ["--set", draw(OVERRIDES)]
    if command == "run":
        if draw(st.booleans()):
            argv += ["--seed", draw(NUMBERS)]
        argv += ["--out", draw(OUTS)] if draw(st.booleans()) else ["--out", "res"]
        argv += [flag for flag in ("--csv", "--json", "--events", "--quiet") if draw(st.booleans())]
    if command == "compare":
        choice = draw(st.integers(0, 2))
        if choice == 1:
            argv += ["--seeds", draw(NUMBERS.filter(lambda n: n not in ("1e3", "4294967296")))]
        elif choice == 2:
            argv += ["--seed-list", draw(LISTS)]
        else:
            argv += ["--seeds", "1"]
        if draw(st.booleans()):
            argv += ["--policy", draw(st.sampled_from(["scheduler=fifo,sjf", "scheduler=", "x=y", "placement=,"]))]
        if draw(st.booleans()):
            argv += ["--out", draw(OUTS)]
        if draw(st.booleans()):
            argv += ["--baseline", draw(st.sampled_from(["fifo", "nope", LONG]))]
    return argv


ARG_CASES = [
    ["run", "s.yaml", "--seed", "4294967296", "--out", "res"],
    ["run", "s.yaml", "--seed", "18446744073709551616", "--out", "res"],
    ["run", "s.yaml", "--set", "workload.jobs.0.count=!!int 1.5", "--out", "res"],
    ["run", "s.yaml", "--set", "seed=" + "7" * 5_000, "--out", "res"],
    ["run", "s.yaml", "--set", LONG, "--out", "res"],
    ["run", "s.yaml", "--out", "x" * 300],
    ["compare", "s.yaml", "--seed-list", "4294967296,18446744073709551616"],
    ["compare", "s.yaml", "--set", "seed=9223372036854775807", "--seeds", "2"],
    ["allocate", "alloc.yaml", "--lambda-sweep", "1e400"],
    ["allocate", "alloc.yaml", "--lambda-sweep", "0,nan"],
    ["allocate", "alloc.yaml", "--lambda", "inf"],
    ["allocate", "alloc.yaml", "--lambda", "nan"],
]
FILES = {
    "s.yaml": yaml.safe_dump(BASES["tiny"]),
    "alloc.yaml": (ROOT / "scenarios" / "allocate_two_racks.yaml").read_text(encoding="utf-8"),
}


def _with_argument_examples(test: Any) -> Any:
    for argv in ARG_CASES:
        test = example(argv)(test)
    return test


@FUZZ
@_with_argument_examples
@given(arguments())
def test_fuzz_arguments(argv: list[str]) -> None:
    check_run(argv, FILES)


@settings(FUZZ, max_examples=6)
@given(
    st.sampled_from(["sweep", "plan"]),
    st.sampled_from(["1", "2", "0", "-1", "10001", "x", "1e400"]),
    st.sampled_from(["1", "2", "0", "100000", "x"]),
)
@example("sweep", "1", "18446744073709551616")
@example("plan", "2", "1")
def test_fuzz_sweep_and_plan_arguments(command: str, replications: str, workers: str) -> None:
    argv = [command, "s.yaml", "--replications", replications, "--workers", workers, "--out", "res"]
    if command == "plan":
        argv += ["--vary", "datacenter.sites.0.racks", "--min", "1", "--max", "2", "--target", "jobs.p95_wait_s<=1h"]
    _, _, _, folder = dcsim(argv, FILES)
    shutil.rmtree(folder, ignore_errors=True)
