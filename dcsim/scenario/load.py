"""Loading scenario files: YAML -> overrides -> schema and policy checks -> whole-scenario checks.

Every problem is collected and raised together as one :class:`ScenarioError` whose
paths are those of the user's file (``workload.jobs.0.duration.mean``). The schema knows no
policies: :func:`policy_problems` checks each policy's name and parameters against its
registry, and each problem takes the place among the schema's that the field's place in
the schema gives it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from dcsim.core import yamlfile
from dcsim.core.errors import DcsimError, ScenarioError, unreadable
from dcsim.core.spec import Policy, PolicySpec
from dcsim.core.text import cut
from dcsim.scenario.checks import check_raw, check_scenario
from dcsim.scenario.messages import params_problems, plain
from dcsim.scenario.overrides import apply_overrides
from dcsim.scenario.schema import Policies, Repair, Scenario


def read_yaml(path: str) -> dict[str, Any]:
    """Read a YAML mapping from ``path``.

    Raises:
        ScenarioError: unreadable file, malformed YAML (with line and column; also a value YAML
            cannot convert, such as ``!!int 1.5``, or nesting too deep), or not a mapping.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, exc, "a scenario .yaml file") from None
    try:
        data = yamlfile.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([("", f"malformed YAML at {where}{problem}")], path) from None
    if not isinstance(data, dict):
        raise ScenarioError([("", "the file must hold a mapping (name:, datacenter:, workload:, ...)")], path)
    return data


def expand_shorthands(data: dict[str, Any]) -> dict[str, Any]:
    """Write ``policies.<kind>: NAME`` as ``{name: NAME}`` so overrides can reach its params."""
    policies = data.get("policies")
    if isinstance(policies, dict):
        for kind, spec in policies.items():
            if isinstance(spec, str):
                policies[kind] = {"name": spec}
    return data


def _user_path(data: Any, loc: tuple[Any, ...]) -> str:
    """Dotted path of a pydantic error, keeping only the steps that exist in the user's data.

    Pydantic adds union tags (``exponential``, ``function-after[...]``) to ``loc``;
    walking the data drops them. An absent last step is kept when it is a field name
    (a missing field), not a union tag.
    """
    parts: list[str] = []
    node = data
    for i, step in enumerate(loc):
        if (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        ):
            parts.append(str(step))
            node = node[step]
        elif i == len(loc) - 1 and isinstance(node, dict) and step in field_names():
            parts.append(str(step))  # a missing field of a mapping
    return ".".join(parts)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def block_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the block that holds ``loc``'s last step, found by walking the JSON schema.

    ``loc`` is pydantic's (union tags included, which pick the branch); returns [] if lost.
    """
    schema = _schema()
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    node = schema
    for step in loc[:-1]:
        node = resolve(node)
        if isinstance(step, int):
            node = node.get("items", {})
        elif step in node.get("properties", {}):
            node = node["properties"][step]
        else:
            branches = [resolve(b) for b in node.get("anyOf", []) + node.get("oneOf", [])]
            mapping = node.get("discriminator", {}).get("mapping", {})
            if step in mapping:
                node = defs[mapping[step].rsplit("/", 1)[-1]]
            else:  # a union tag by class name, or a branch holding the step
                node = next(
                    (b for b in branches if b.get("title") == step or step in b.get("properties", {})),
                    {},
                )
                if node.get("title") != step and step in node.get("properties", {}):
                    node = node["properties"][step]
        node = resolve(node)
        if not node:
            return []
    if "anyOf" in node or "oneOf" in node:  # e.g. an optional block: the branch with fields
        node = next((resolve(b) for b in node.get("anyOf", []) + node.get("oneOf", []) if "$ref" in b), node)
        node = resolve(node)
    return list(node.get("properties", {}))


@lru_cache(maxsize=1)
def field_names() -> frozenset[str]:
    """Every field name anywhere in the scenario schema."""
    schema = _schema()
    blocks = [schema, *schema.get("$defs", {}).values()]
    return frozenset(name for block in blocks for name in block.get("properties", {}))


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        loc = tuple(error["loc"])
        if len(loc) == 5 and loc[:2] == ("datacenter", "sites") and loc[3] == "repair" and key in Repair.model_fields:
            return (
                f"a site's `repair` takes only technicians and working_hours; `{key}` is scenario-wide: set "
                f"`repair.{key}`"
            )
        names = [n for n in block_fields(tuple(error["loc"])) if n != key]
        close = [n for n in names if len(key) >= 3 and n.startswith(key)]
        close = close or difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key; {hint}check its spelling (`dcsim schema` lists every field)"
    return plain(error)


#: Where a scenario names a policy, as (block, field, kind of policy), in the schema's field order.
POLICY_FIELDS = (
    ("repair", "policy", "repair"),
    ("policies", "scheduler", "scheduler"),
    ("policies", "placement", "placement"),
    ("policies", "site_router", "site_router"),
    ("policies", "fairness", "fairness"),
)


def policy_problems(data: dict[str, Any], base_dir: str) -> list[tuple[tuple[Any, ...], str]]:
    """Unknown policy names and bad parameters, as ``(location, message)`` in the schema's field order.

    Only a policy field the user gave, and that is a valid policy spec (its own errors are the
    schema's), is checked. A plug-in's module is looked for on the Python path, then beside the
    scenario file (``base_dir``) and in the current folder.
    """
    from dcsim.policies import REGISTRIES

    adapter: TypeAdapter[PolicySpec] = TypeAdapter(Policy)
    search = [base_dir, os.getcwd()]
    problems = []
    places: list[tuple[tuple[Any, ...], Any, Any, Any]] = []
    for block, field, kind in POLICY_FIELDS:
        raw = data.get(block)
        if isinstance(raw, dict) and field in raw:
            places.append(((block, field), raw[field], adapter, REGISTRIES[kind]))
    services = data.get("services")
    if isinstance(services, list):
        from dcsim.policies.autoscaling import AUTOSCALER
        from dcsim.policies.balancing import LOAD_BALANCER
        from dcsim.workload.service_spec import ServicePolicy

        service_adapter: TypeAdapter[PolicySpec] = TypeAdapter(ServicePolicy)
        for i, raw in enumerate(services):
            for field, registry in (("load_balancer", LOAD_BALANCER), ("autoscaler", AUTOSCALER)):
                if isinstance(raw, dict) and field in raw:
                    places.append((("services", i, field), raw[field], service_adapter, registry))
        places = [_geo_place(p, search) if p[0][0] == "services" and p[0][2] == "load_balancer" else p for p in places]
    for loc, raw_spec, spec_adapter, registry in places:
        try:
            spec = spec_adapter.validate_python(raw_spec)
        except ValidationError:
            continue
        try:
            registry.validate_params(spec.name, spec.params, search)
        except DcsimError as exc:
            problems.append((loc, str(exc)))
        except ValueError as exc:  # pydantic's ValidationError of the Params model
            errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
            parts = params_problems(errors) or [cut(str(exc), 300)]
            problems.append((loc, f"{cut(spec.name, 80)}: " + "; ".join(parts)))
    return problems


_Place = tuple[tuple[Any, ...], Any, Any, Any]


def _geo_place(place: _Place, search: list[str]) -> _Place:
    """A service's load balancer checked against the geo balancers when it names one (and its `local` balancer)."""
    from dcsim.policies.geo import is_geo

    loc, raw, adapter, registry = place
    try:
        name = adapter.validate_python(raw).name
    except ValidationError:
        return place
    return (loc, raw, adapter, is_geo(name, search) or registry)


def _schema_rank(loc: tuple[Any, ...]) -> tuple[int, int]:
    """Where pydantic reports an error at ``loc`` among a scenario's (top-level field, its field; extras last).

    Pydantic validates fields in declaration order and then refuses unknown keys; the policy
    blocks' errors come from the checks, and take the place the schema would give them.
    """
    fields = list(Scenario.model_fields)
    top = fields.index(loc[0]) if loc and loc[0] in fields else len(fields)
    if len(loc) < 2:
        return top, -1
    block = {"repair": Repair, "policies": Policies}.get(str(loc[0]))
    inner = list(block.model_fields) if block is not None else []
    return top, inner.index(loc[1]) if loc[1] in inner else len(inner)


def scenario_from_data(data: dict[str, Any], base_dir: str = ".", source: str | None = None) -> Scenario:
    """Validate raw scenario data; raise one ScenarioError listing every problem."""
    try:
        scenario: Scenario | None = Scenario.model_validate(data)
        errors: list[Any] = []
    except ValidationError as exc:
        scenario, errors = None, exc.errors()
    found = [(tuple(e["loc"]), _message(e)) for e in errors]
    policies = policy_problems(data, base_dir)
    for loc, text in policies:
        at = next((i for i, (other, _) in enumerate(found) if _schema_rank(other) > _schema_rank(loc)), len(found))
        found.insert(at, (loc, cut(text, 300)))  # as pydantic's message of a validator's error is cut
    if scenario is None or policies:
        problems = [(_user_path(data, loc), text) for loc, text in found]
        seen = set(problems)
        problems += [p for p in check_raw(data, base_dir) if p not in seen]
        raise ScenarioError(problems, source)
    scenario._base_dir = base_dir
    problems = check_scenario(scenario)
    if scenario.events:
        from dcsim.scenario.events import event_problems

        problems += event_problems(scenario, data, lambda changed: scenario_from_data(changed, base_dir))
    if problems:
        raise ScenarioError(problems, source)
    return scenario


def load_scenario(path: str, overrides: Iterable[str] = (), seed: int | None = None) -> Scenario:
    """Load, override and validate a scenario file.

    Args:
        path: the YAML file.
        overrides: ``path=value`` strings, applied in order.
        seed: replaces the scenario's seed when given.

    Raises:
        ScenarioError: every problem found, each with its path.
        OverrideError: an override that does not apply.
    """
    data = read_yaml(path)
    if {"pools", "services"} <= set(data) and "datacenter" not in data:
        raise ScenarioError(
            [("", f"this is an allocation problem (pools and services), not a scenario: run `dcsim allocate {path}`")],
            path,
        )
    data = expand_shorthands(data)
    data = apply_overrides(data, overrides)
    if seed is not None:
        data["seed"] = seed
    return scenario_from_data(data, os.path.dirname(os.path.abspath(path)), path)
