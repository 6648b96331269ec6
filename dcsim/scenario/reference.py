"""The scenario reference, generated from the schema (``dcsim schema``).

Walks the JSON Schema of :class:`~dcsim.scenario.schema.Scenario`: one section per
block, one row per field with its type, unit, default and meaning; plus the
registered policies with their parameters. Generated, so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from dcsim.scenario.schema import Scenario

UNITS = {
    "duration": "duration: 90s 15m 2h 7d 1w (bare number = seconds)",
    "rate": "rate: 10/h 1/d 0.5/m (bare number = per second)",
    "power": "power: 700W 1.2kW (bare number = watts)",
    "bandwidth": "bandwidth: 400Gbps 50GB/s (bare number = bits/s)",
    "size": "size: 500GB 2TiB (bare number = bytes)",
    "USD per GPU-hour": "USD per GPU-hour: 2.1, or per type {H100: 2.5, A100: 1.2}",
}


def _type(prop: dict[str, Any] | bool) -> str:
    if not isinstance(prop, dict):
        return "any"
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "const" in prop:
        return repr(prop["const"])
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(_type(p) for p in prop["anyOf"] if p.get("type") != "null") + (
            " | null" if any(p.get("type") == "null" for p in prop["anyOf"]) else ""
        )
    if "oneOf" in prop:
        return " | ".join(_type(p) for p in prop["oneOf"])
    t = prop.get("type", "any")
    if t == "array":
        return f"list[{_type(prop.get('items', {}))}]"
    if t == "object" and "additionalProperties" in prop:
        return f"map[str, {_type(prop['additionalProperties'])}]"
    if isinstance(t, list):
        return " | ".join(t)
    return str(t)


def _refs(prop: Any) -> list[str]:
    """Names of the blocks a property refers to, in order."""
    if isinstance(prop, dict):
        if "$ref" in prop:
            return [prop["$ref"].rsplit("/", 1)[-1]]
        return [r for value in prop.values() for r in _refs(value)]
    if isinstance(prop, list):
        return [r for value in prop for r in _refs(value)]
    return []


def _unit(prop: dict[str, Any]) -> str:
    for p in [prop, *prop.get("anyOf", [])]:
        if "x-unit" in p:
            return str(p["x-unit"])
    return ""


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop:
        return "(computed)"
    value = prop["default"]
    if value is None:
        return "none"
    if _unit(prop) == "duration" and isinstance(value, int | float):
        from dcsim.core.units import format_duration

        return f"{value:g} s ({format_duration(value)})" if value else "0"
    if _unit(prop) == "bandwidth" and isinstance(value, int | float):
        return f"{value / 1e9:g}Gbps"
    return repr(value) if isinstance(value, str) else str(value)


def _models() -> dict[str, type]:
    """Every scenario block class by name (the names of the JSON schema's ``$defs``)."""
    from dcsim.scenario.schema import Strict

    out: dict[str, type] = {}
    stack: list[type] = [Strict]
    while stack:
        cls = stack.pop()
        out[cls.__name__] = cls
        stack += cls.__subclasses__()
    return out


def _factory_default(model: type | None, field: str) -> str:
    """A readable form of a default made by a factory (an empty list, a block of defaults, ...)."""
    from pydantic import BaseModel

    info = getattr(model, "model_fields", {}).get(field)
    if info is None:
        return "(computed)"
    value = info.get_default(call_default_factory=True)
    if value in ([], {}):
        return "none"
    if isinstance(value, dict) and set(value) == {"*"}:
        return str(value["*"])
    if hasattr(value, "dist"):
        from dcsim.core.units import format_duration

        parts = [f"{k} {format_duration(v)}" for k, v in value.model_dump().items() if isinstance(v, float)]
        return f"{value.dist}, " + ", ".join(parts)
    if isinstance(value, BaseModel) and hasattr(value, "name"):
        return repr(value.name)
    return "its defaults"


def sections() -> list[tuple[str, str, list[tuple[str, str, str, str, str]]]]:
    """``(block name, its description, rows of (field, type, unit, default, meaning))``."""
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    # Top-down: each block after the block that first refers to it, in field order.
    order: list[str] = []

    def visit(block: dict[str, Any]) -> None:
        for prop in block.get("properties", {}).values():
            for ref in _refs(prop):
                if ref not in order and ref in defs:
                    order.append(ref)
                    visit(defs[ref])

    visit(schema)
    order += sorted(set(defs) - set(order))
    blocks = [("Scenario", schema), *((name, defs[name]) for name in order)]
    out = []
    models = _models()
    for name, block in blocks:
        if "properties" not in block:
            continue
        required = set(block.get("required", []))
        rows = []
        for field, prop in block["properties"].items():
            default = _default(prop, field in required)
            if default == "(computed)":
                default = _factory_default(models.get(name), field)
            rows.append((field, _type(prop), _unit(prop), default, prop.get("description", "")))
        out.append((name, " ".join(block.get("description", "").split()), rows))
    return out


def policies_text() -> str:
    """Every registered policy with its one-line rule and parameters."""
    from dcsim.policies import REGISTRIES

    lines = []
    for kind, registry in REGISTRIES.items():
        if kind in ("load_balancer", "autoscaler", "geo_load_balancer"):
            field = "load_balancer" if kind == "geo_load_balancer" else kind
            lines.append(f"{kind} (services[].{field}: NAME, {{policy: NAME, PARAM: VALUE, ...}} or "
                         "{name: NAME, params: {...}}):")  # fmt: skip
        else:
            path = "repair.policy" if kind == "repair" else f"policies.{kind}"
            lines.append(f"{kind} ({path}: NAME or {{name: NAME, params: {{...}}}}):")
        names = registry.describe()
        width = max(12, *(len(n) for n in names))
        for name, doc in names.items():
            lines.append(f"  {name:<{width}} {doc}")
            fields = registry.params_model(name).model_fields
            for pname, f in fields.items():
                if f.is_required():
                    default = "(required)"
                else:  # a field with a default_factory has no default of its own
                    default = repr(f.default_factory() if f.default_factory is not None else f.default)
                lines.append(f"  {'':<{width}}   params.{pname} = {default}: {f.description or ''}")
        lines.append("")
    lines.append("A plug-in loads as 'module:Class': a class with a pydantic `Params` model and "
                 "__init__(params, rng), as in dcsim/policies/.")  # fmt: skip
    return "\n".join(lines)


def text_reference() -> str:
    """The reference as plain text for a terminal."""
    lines = ["dcsim scenario reference (generated from the schema)", ""]
    lines += ["Units:"] + [f"  {v}" for v in UNITS.values()] + [""]
    for name, desc, rows in sections():
        lines.append(f"{name}: {desc}" if desc else name)
        for field, typ, unit, default, meaning in rows:
            extra = f" [{unit}]" if unit else ""
            lines.append(f"  {field:<22} {typ}{extra}; default {default}")
            if meaning:
                lines.append(f"  {'':<22} {meaning}")
        lines.append("")
    lines.append(policies_text())
    return "\n".join(lines)


def markdown_reference() -> str:
    """The reference as Markdown (docs/reference/scenario.md is this output)."""
    out = [
        "# Scenario reference",
        "",
        "Generated by `dcsim schema --markdown` from the schema; do not edit by hand.",
        "",
        "## Units",
        "",
        *[f"- {v}" for v in UNITS.values()],
        "",
    ]
    for name, desc, rows in sections():
        out += [f"## {name}", ""]
        if desc:
            out += [desc, ""]
        out += ["| field | type | unit | default | meaning |", "|---|---|---|---|---|"]
        for field, typ, unit, default, meaning in rows:
            cells = [
                f"`{field}`",
                typ.replace("|", "\\|"),
                unit,
                default.replace("|", "\\|"),
                meaning.replace("|", "\\|"),
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Policies", "", "```", policies_text(), "```", ""]
    return "\n".join(out)
