"""Major or minor: tool contracts and the state schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ratchet.vcs import ReleaseKind
from services.architect.bump import decide, incompatible

ROUTE: dict[str, Any] = {
    "name": "route",
    "input_schema": {
        "properties": {"text": {"type": "string"}, "conversation_id": {"type": "string"}},
        "required": ["text"],
    },
    "output_schema": {"properties": {"intent": {"type": "string"}, "turn": {"type": "integer"}}},
}


def tools(*runner: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {"runner": list(runner), "tuner": [{"name": "status"}]}


def with_schema(part: str, **changes: Any) -> dict[str, Any]:
    schema = {**ROUTE[part], **changes}
    return {**ROUTE, part: schema}


def test_compatible_changes_are_minor(tmp_path: Path) -> None:
    extra: dict[str, Any] = {"name": "ping", "input_schema": {}, "output_schema": None}
    optional = with_schema(
        "input_schema",
        properties={**ROUTE["input_schema"]["properties"], "locale": {"type": "string"}},
    )
    assert incompatible(tools(ROUTE), tools(optional, extra)) == []
    assert decide(tools(ROUTE), tools(ROUTE), tmp_path, tmp_path).kind is ReleaseKind.MINOR


def test_breaking_changes_are_each_named() -> None:
    renamed = {**ROUTE, "name": "classify"}
    assert incompatible(tools(ROUTE), tools(renamed)) == ["runner tool 'route' removed or renamed"]
    required = with_schema("input_schema", required=["text", "conversation_id"])
    assert "'conversation_id' is now required" in incompatible(tools(ROUTE), tools(required))[0]
    retyped = with_schema("input_schema", properties={"text": {"type": "integer"}})
    assert len(incompatible(tools(ROUTE), tools(retyped))) == 2  # text retyped, id removed
    fewer = with_schema("output_schema", properties={"intent": {"type": "string"}})
    assert "result field 'turn'" in incompatible(tools(ROUTE), tools(fewer))[0]
    assert "tuner tool 'status'" in incompatible(tools(ROUTE), {"runner": [ROUTE]})[0]


def test_a_state_migration_is_major(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (new / "state" / "migrations").mkdir(parents=True)
    (new / "state" / "migrations" / "m001.py").write_text(
        "FROM_VERSION = 1\n\ndef migrate(data):\n    return data\n"
    )
    bump = decide(tools(ROUTE), tools(ROUTE), old, new)
    assert bump.kind is ReleaseKind.MAJOR and "from version 1 to 2" in bump.reasons[0]
