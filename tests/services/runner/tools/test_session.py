"""The ``session://`` resource read directly: a conversation's turns, or a clear error."""

from __future__ import annotations

import json

import pytest
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from services.runner.runtime import RunnerRuntime
from services.runner.tools.route import RouteTool
from services.runner.tools.session import SessionResource
from tests.services.runner.cases import messages

pytestmark = pytest.mark.anyio


async def test_a_conversation_lists_its_turns_with_their_answers(runtime: RunnerRuntime) -> None:
    text = messages(1)[0]
    answer = await RouteTool(runtime).route(text, conversation_id="c1")
    body = json.loads(SessionResource(runtime.sessions).session("c1"))
    assert (body["conversation_id"], body["arm"]) == ("c1", answer.arm)
    [turn] = body["turns"]
    assert (turn["turn"], turn["text"], turn["intent"]) == (
        1,
        text,
        answer.intent,
    )
    assert (turn["version"], turn["feedback"]) == (answer.version, [])


def test_an_unknown_or_malformed_conversation_is_an_error(runtime: RunnerRuntime) -> None:
    resource = SessionResource(runtime.sessions)
    with pytest.raises(ResourceNotFoundError, match="no conversation 'never-seen'"):
        resource.session("never-seen")
    with pytest.raises(ResourceError, match="malformed conversation id"):
        resource.session("bad id")
