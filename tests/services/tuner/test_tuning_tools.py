"""The algorithm tools over MCP: preferences, rule mining; auto-promotion; summary events."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from ratchet import datasets, events
from ratchet.objects import FilesystemObjectStore, open_object_store
from ratchet.sessions import SessionStore
from ratchet.state import open_state_manager
from services.runner.agent.build import RouterFactory
from services.tuner.app import build_server
from services.tuner.settings import TunerSettings
from tests.conftest import PROJECT_ROOT
from tests.helpers.mcp import call
from tests.services.tuner.conftest import answered

pytestmark = pytest.mark.anyio


async def test_preferences_refit_strengths_and_change_the_suggested_reply(
    project_home: TunerSettings, store: SessionStore
) -> None:
    manager = open_state_manager(project_home)
    async with Client(build_server(project_home, manager, store)) as c:
        for key in ("p1", "p2", "p2"):  # p2 retried: counted once
            last = await call(
                c,
                "preference",
                intent="card_arrival",
                winner="card_arrival.b",
                loser="card_arrival.a",
                idempotency_key=key,
            )
        unknown = await c.call_tool(
            "preference", {"intent": "card_arrival", "winner": "x", "loser": "card_arrival.a"}
        )
        same = await c.call_tool(
            "preference",
            {"intent": "card_arrival", "winner": "card_arrival.a", "loser": "card_arrival.a"},
        )
        bad_intent = await c.call_tool(
            "preference", {"intent": "no_such", "winner": "a", "loser": "b"}
        )
    assert last["duplicate"] is True and last["comparisons"] == 2
    assert last["suggested"] == "card_arrival.b"
    assert last["strengths"]["card_arrival.b"] > 0 > last["strengths"]["card_arrival.a"]
    assert unknown.is_error and "is not a reply of card_arrival" in str(unknown.content)
    assert same.is_error and "different" in str(same.content)
    assert bad_intent.is_error and "unknown intent" in str(bad_intent.content)
    replies = manager.read_staging().data["replies"]
    assert replies["card_arrival"][1]["strength"] == last["strengths"]["card_arrival.b"]
    assert replies["card_arrival"][0]["strength"] < 0
    assert all(r["strength"] == 0 for r in replies["atm_support"])  # other intents untouched


@pytest.mark.slow
async def test_rules_mined_from_corrections_raise_dev_accuracy(
    project_home: TunerSettings, store: SessionStore
) -> None:
    manager = open_state_manager(project_home)
    router = RouterFactory(FilesystemObjectStore(project_home.home_path / "scratch"), PROJECT_ROOT)
    model = router.build(manager.read_staging().data)
    for index, example in enumerate(datasets.load(PROJECT_ROOT, "train")[::3]):
        predicted = model.predict(example.text, "centroid").intent
        if predicted != example.intent:  # a mistake a user corrected
            conversation = f"m{index}"
            answered(store, conversation, text=example.text, intent=predicted)
            store.record_feedback(
                conversation,
                1,
                correct_intent=example.intent,
                reward=None,
                idempotency_key=None,
                source="test",
            )
    async with Client(build_server(project_home, manager, store)) as c:
        mined = await call(c, "mine_rules", max_rules=3, max_tries=15)
    assert mined["mistakes"] > 300 and mined["candidates"] > 0
    assert mined["kept"], mined
    assert mined["dev_accuracy_after"] > mined["dev_accuracy_before"]
    rules = manager.read_staging().data["rules"]
    assert [rule["id"] for rule in rules] == mined["kept"]


async def test_auto_promotion_after_n_feedbacks_publishes_a_summary_event(
    project_home: TunerSettings, store: SessionStore
) -> None:
    settings = project_home.model_copy(update={"auto_promote_every": 2})
    for conversation in ("a1", "a2"):
        answered(store, conversation, arm="blend")
    async with Client(build_server(settings, open_state_manager(settings), store)) as c:
        await call(c, "feedback", conversation_id="a1", correct_intent="card_arrival")
        assert (await call(c, "status"))["last_auto_promotion"] is None  # 1 < 2
        await call(c, "feedback", conversation_id="a2", correct_intent="lost_or_stolen_card")
        deadline = time.monotonic() + 60
        while (status := await call(c, "status"))["last_auto_promotion"] is None:
            assert time.monotonic() < deadline, "no auto-promotion within 60 s"
            await anyio.sleep(0.1)
    promotion = status["last_auto_promotion"]
    assert promotion["promoted"] and promotion["version"] == "v0.1.1"
    assert status["active_version"] == "v0.1.1"
    assert promotion["kpis"] == {
        "feedback": 2,
        "mean_reward": 0.5,
        "corrections": 2,
        "correction_accuracy": 0.5,
    }
    published = events.read(open_object_store(settings), "tuner")
    assert [key for key, _ in published] == [promotion["event"]]
    event = published[0][1]
    assert event["kind"] == "promotion" and event["version"] == "v0.1.1"
    assert event["parent"] == "v0.1.0" and event["kpis"] == promotion["kpis"]
