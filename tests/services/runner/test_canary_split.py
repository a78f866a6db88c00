"""During a rollout the Runner splits new conversations between the stable version and
the canary by a hash of the conversation id, keeps every conversation on the version
that answered its first turn, and serves everyone stable when there is no canary to serve.

Weight 0 stops new conversations reaching the canary; conversations already on it stay
on it until the rollout ends (the pointer drops the canary: promoted or aborted).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from mcp import Client

from ratchet.rollouts.assignment import takes_canary
from ratchet.state import StateDocument
from services.runner.app import build_app, build_server
from services.runner.runtime import RunnerRuntime
from services.runner.tools.route import RouteTool
from tests.helpers.rollouts import canary_of
from tests.services.runner.cases import messages

pytestmark = pytest.mark.anyio

CANARY = "v0.2.0"


def canary_state(runtime: RunnerRuntime, change: dict[str, Any] | None = None) -> StateDocument:
    """A new state revision that needs no training (exploration off), or ``change``d."""
    return runtime.manager.update_staging(
        lambda data: {**data, "strategy": {**data["strategy"], "explore": False}, **(change or {})},
        actor="test",
    )


def set_canary(runtime: RunnerRuntime, document: StateDocument | None, weight: float) -> None:
    """What the rollout controller does at each step (None: the rollout ends)."""
    manager = runtime.manager
    canary = None if document is None else canary_of(manager, CANARY, document, weight, "r1")
    manager.set_canary(lambda current: canary, actor="rollout", reason=f"weight {weight}")


async def turn(tool: RouteTool, cid: str, text: str) -> str:
    """One turn of conversation ``cid``; the version that answered it."""
    return (await tool.route(text, conversation_id=cid)).version


def versions_recorded(runtime: RunnerRuntime) -> dict[str, set[str]]:
    """The versions that answered each conversation, from the sessions store."""
    with runtime.sessions.db.read() as tx:
        rows = tx.all("SELECT conversation_id, version FROM turns")
    seen: dict[str, set[str]] = {}
    for cid, version in rows:
        seen.setdefault(cid, set()).add(version)
    return seen


async def test_half_the_new_conversations_go_to_the_canary_by_hash(
    runtime: RunnerRuntime,
) -> None:
    document = canary_state(runtime)
    set_canary(runtime, document, 0.5)
    text = messages(1)[0]
    answers = {}
    async with Client(build_server(runtime)) as client:
        for i in range(120):
            result = await client.call_tool("route", {"text": text, "conversation_id": f"s-{i}"})
            assert not result.is_error and result.structured_content is not None
            answers[f"s-{i}"] = result.structured_content
    on_canary = {cid for cid, answer in answers.items() if answer["version"] == CANARY}
    assert on_canary == {cid for cid in answers if takes_canary(cid, 0.5)}  # deterministic
    assert 40 <= len(on_canary) <= 80  # 120 fair coins: > 3.6 standard errors
    assert all(answers[cid]["state_revision"] == document.revision for cid in on_canary)
    stable = runtime.served
    others = {(a["version"], a["state_revision"]) for c, a in answers.items() if c not in on_canary}
    assert others == {(stable.version, stable.revision)}
    with runtime.audit.db.read() as tx:
        audited = {r[0]: r[1] for r in tx.all("SELECT conversation_id, version FROM calls")}
    assert audited == {cid: answer["version"] for cid, answer in answers.items()}


async def test_a_conversation_keeps_its_first_version_while_the_weight_moves(
    runtime: RunnerRuntime,
) -> None:
    tool, texts, document = RouteTool(runtime), messages(4), canary_state(runtime)
    first: dict[str, str] = {}
    for prefix, weight in (("a", 0.1), ("b", 0.5), ("c", 0.0)):
        set_canary(runtime, document, weight)  # the rollout's next step
        for cid in first:  # every conversation so far keeps its version
            assert await turn(tool, cid, texts[1]) == first[cid], (cid, weight)
        new = {f"{prefix}-{i}": await turn(tool, f"{prefix}-{i}", texts[0]) for i in range(30)}
        assert new == {cid: CANARY if takes_canary(cid, weight) else "v0.1.0" for cid in new}
        first |= new
    assert {v for cid, v in first.items() if cid.startswith("c-")} == {"v0.1.0"}
    assert {v for cid, v in first.items() if cid.startswith("b-")} == {"v0.1.0", CANARY}
    for cid in first:  # at weight 0 the canary's conversations are still the canary's
        assert await turn(tool, cid, texts[2]) == first[cid]
    assert all(len(versions) == 1 for versions in versions_recorded(runtime).values())


async def healthz(runtime: RunnerRuntime) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=build_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        body: dict[str, Any] = (await http.get("/healthz")).json()
    return body


async def test_after_promotion_everyone_gets_the_new_version(runtime: RunnerRuntime) -> None:
    tool, text, document = RouteTool(runtime), messages(1)[0], canary_state(runtime)
    set_canary(runtime, document, 0.5)
    assert (await healthz(runtime))["canary"] == {
        "version": CANARY,
        "state_revision": document.revision,
        "weight": 0.5,
    }
    before = {f"p-{i}": await turn(tool, f"p-{i}", text) for i in range(20)}
    assert set(before.values()) == {"v0.1.0", CANARY}
    canary = runtime.serving.canary
    assert canary is not None
    canary_router = canary.router
    trainings = runtime.factory.trainings
    manager = runtime.manager
    pointer = manager.pointer()
    assert pointer is not None and pointer.canary is not None
    manager.activate(CANARY, manager.canary_state(pointer.canary), actor="rollout", reason="ok")
    after = [await tool.route(text, conversation_id=cid) for cid in [*before, "p-new"]]
    assert {(a.version, a.state_revision) for a in after} == {(CANARY, document.revision)}
    assert runtime.serving.canary is None and runtime.served.router is canary_router
    assert runtime.factory.trainings == trainings  # the canary's router, not a rebuild
    health = await healthz(runtime)
    assert (health["version"], "canary" in health) == (CANARY, False)


async def test_a_canary_that_cannot_be_built_leaves_everyone_on_stable(
    runtime: RunnerRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    broken = canary_state(runtime, {"strategy": {"arms": {}}})
    with caplog.at_level(logging.ERROR):
        set_canary(runtime, broken, 1.0)
        set_canary(runtime, broken, 0.9)  # a refused canary is not retried every step
    assert runtime.serving.canary is None
    refusals = [r for r in caplog.records if "cannot serve canary v0.2.0" in r.getMessage()]
    assert len(refusals) == 1
    tool, text = RouteTool(runtime), messages(1)[0]
    answers = [await tool.route(text, conversation_id=f"f-{i}") for i in range(10)]
    assert {a.version for a in answers} == {"v0.1.0"}
    assert "canary" not in await healthz(runtime)
