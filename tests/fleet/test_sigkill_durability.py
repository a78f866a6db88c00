"""SIGKILL of the Runner and the Tuner under concurrent route and feedback traffic: no
answered turn and no acknowledged feedback is lost.

Real processes on one home's databases (its SQLite files, or the Postgres database
``make test-postgres`` gives every test), driven by the official MCP client: six
clients call ``route``, two give feedback on the answered turns; both services are
killed while calls are in flight. Every answer a client got (its conversation, turn
and intent) and every feedback id it got back must be in the sessions file, and the
Runner restarted on that file goes on numbering the conversations' turns. This is
the contract group commit keeps (ratchet.db.sqlite): a call is answered only after
the commit its write was part of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ratchet.bootstrap import initialize
from ratchet.sessions import SessionStore
from services.runner.settings import RunnerSettings
from tests.helpers.mcp import call
from tests.helpers.processes import Starting, home_env, running
from tests.services.runner.cases import messages

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TEXTS = messages(6)
ANSWERS_BEFORE_KILL = 60
FEEDBACK_BEFORE_KILL = 15


@dataclass
class Acknowledged:
    """What the clients were told: answers (conversation, turn) -> intent, feedback ids."""

    answers: dict[tuple[str, int], str] = field(default_factory=dict)
    feedback: dict[int, tuple[str, int]] = field(default_factory=dict)
    enough: anyio.Event = field(default_factory=anyio.Event)

    def check(self) -> None:
        if len(self.answers) >= ANSWERS_BEFORE_KILL and len(self.feedback) >= FEEDBACK_BEFORE_KILL:
            self.enough.set()


async def routing(url: str, index: int, told: Acknowledged) -> None:
    """Route until the server dies; each client continues three conversations."""
    try:
        async with Client(url) as client:
            for n in range(10_000):
                cid = f"c{index}-{n % 3}"
                answer = await call(
                    client, "route", text=TEXTS[n % len(TEXTS)], conversation_id=cid
                )
                told.answers[(cid, int(answer["turn"]))] = str(answer["intent"])
                told.check()
    except Exception:  # the kill: a call in flight fails, and every one after it
        return


async def giving_feedback(url: str, index: int, told: Acknowledged) -> None:
    """Feedback on answered turns (each once, by idempotency key) until the server dies."""
    given: set[tuple[str, int]] = set()
    try:
        async with Client(url) as client:
            while True:
                todo = [t for t in list(told.answers) if t not in given and hash(t) % 2 == index]
                if not todo:
                    await anyio.sleep(0.005)  # the route clients answer more turns
                    continue
                cid, turn = todo[0]
                given.add((cid, turn))
                result = await call(
                    client,
                    "feedback",
                    conversation_id=cid,
                    turn=turn,
                    reward=1.0,
                    idempotency_key=f"{cid}/{turn}",
                )
                told.feedback[int(result["feedback_id"])] = (cid, turn)
                told.check()
    except Exception:
        return


def assert_all_stored(sessions: SessionStore, told: Acknowledged) -> None:
    conversations: dict[str, Any] = {}
    for cid, turn in told.answers:
        if cid not in conversations:
            conversations[cid] = sessions.conversation(cid)
        stored = conversations[cid]
        assert stored is not None, f"conversation {cid} lost"
        by_turn = {t["turn"]: t for t in stored["turns"]}
        assert turn in by_turn, f"answered turn {cid}/{turn} lost"
        assert by_turn[turn]["intent"] == told.answers[(cid, turn)]
    for feedback_id, (cid, turn) in told.feedback.items():
        row = sessions.feedback_after(feedback_id - 1, limit=1)
        assert row and row[0]["id"] == feedback_id, f"acknowledged feedback {feedback_id} lost"
        assert (row[0]["conversation_id"], row[0]["turn"]) == (cid, turn)


@pytest.fixture
def runner_settings(tmp_path: Path, project_checkout: Path) -> RunnerSettings:
    """A home cloned from this project: its processes serve the active release's build."""
    settings = RunnerSettings(home=tmp_path / "home", project_root=project_checkout, port=0)
    initialize(settings)
    return settings


async def test_no_answered_turn_or_acknowledged_feedback_is_lost_on_sigkill(
    runner_settings: RunnerSettings,
) -> None:
    env = home_env(runner_settings.home_path, RATCHET_RUNNER_PORT="0", RATCHET_TUNER_PORT="0")
    runner, tuner = Starting("services.runner", env), Starting("services.tuner", env)
    told = Acknowledged()
    try:
        runner_url, tuner_url = runner.ready(90).url + "/mcp", tuner.ready(90).url + "/mcp"
        async with anyio.create_task_group() as group:
            for index in range(6):
                group.start_soon(routing, runner_url, index, told)
            for index in range(2):
                group.start_soon(giving_feedback, tuner_url, index, told)
            with anyio.fail_after(60):
                await told.enough.wait()
            runner.process.kill()  # SIGKILL, with calls in flight on both
            tuner.process.kill()
    finally:
        runner.stop()
        tuner.stop()
    assert len(told.answers) >= ANSWERS_BEFORE_KILL
    sessions = SessionStore.open(runner_settings)  # its file, or RATCHET_DATABASE_URL's
    try:
        assert_all_stored(sessions, told)
        last = max(turn for cid, turn in told.answers if cid == "c0-0")
    finally:
        sessions.close()
    with running("services.runner", env) as restarted:  # it opens the file the kill left
        async with Client(f"{restarted.url}/mcp") as client:
            answer = await call(client, "route", text=TEXTS[0], conversation_id="c0-0")
    assert answer["turn"] > last
