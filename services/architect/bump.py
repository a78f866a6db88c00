"""Which part of the version a release bumps: major on a broken contract, else minor.

**Major** when a client of the active version could break: a Runner or Tuner
tool is gone (or renamed), an argument it accepted is gone or changed type,
an argument became required, a field of its result is gone or changed type;
or the state schema moved on (a new migration). Anything else (new tools,
new optional arguments, new result fields, code and state changes) is
**minor**. The tool lists come from the full tier, which listed them over
MCP from both versions' running services.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratchet.state.migrations import MigrationRegistry
from ratchet.vcs import ReleaseKind

Tools = dict[str, list[dict[str, Any]]]  # service -> [{name, input_schema, output_schema}]


@dataclass
class Bump:
    kind: ReleaseKind
    reasons: list[str] = field(default_factory=list)


def tool_schema_hash(tools: Tools) -> str:
    return hashlib.sha256(json.dumps(tools, sort_keys=True).encode()).hexdigest()[:16]


def _properties(schema: dict[str, Any] | None) -> dict[str, Any]:
    props = (schema or {}).get("properties")
    return props if isinstance(props, dict) else {}


def _type_of(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return None
    return schema.get("type", schema.get("anyOf", schema.get("$ref")))


def incompatible(old: Tools, new: Tools) -> list[str]:
    """Every change of ``new`` that breaks a client of ``old``."""
    problems: list[str] = []
    for service, old_tools in sorted(old.items()):
        new_by_name = {t["name"]: t for t in new.get(service, [])}
        for tool in old_tools:
            name = tool["name"]
            other = new_by_name.get(name)
            if other is None:
                problems.append(f"{service} tool {name!r} removed or renamed")
                continue
            problems += _arguments(service, name, tool, other)
            problems += _results(service, name, tool, other)
    return problems


def _arguments(service: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found = []
    before, after = _properties(old.get("input_schema")), _properties(new.get("input_schema"))
    for arg, schema in before.items():
        if arg not in after:
            found.append(f"{service} tool {name!r}: argument {arg!r} removed")
        elif _type_of(schema) != _type_of(after[arg]):
            found.append(f"{service} tool {name!r}: argument {arg!r} changed type")
    old_required = set((old.get("input_schema") or {}).get("required", []))
    for arg in sorted(set((new.get("input_schema") or {}).get("required", [])) - old_required):
        found.append(f"{service} tool {name!r}: argument {arg!r} is now required")
    return found


def _results(service: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = _properties(old.get("output_schema")), _properties(new.get("output_schema"))
    return [
        f"{service} tool {name!r}: result field {key!r} removed or changed type"
        for key, schema in before.items()
        if key not in after or _type_of(schema) != _type_of(after[key])
    ]


def schema_version(code_root: Path) -> int:
    """The state schema version the code at ``code_root`` migrates documents to."""
    return MigrationRegistry.from_directory(code_root / "state" / "migrations").current_version


def decide(old_tools: Tools, new_tools: Tools, old_root: Path, new_root: Path) -> Bump:
    reasons = incompatible(old_tools, new_tools)
    before, after = schema_version(old_root), schema_version(new_root)
    if after != before:
        reasons.append(f"the state schema moves from version {before} to {after} (a migration)")
    return Bump(ReleaseKind.MAJOR if reasons else ReleaseKind.MINOR, reasons)
