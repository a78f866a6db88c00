"""``route`` on a task with out-of-scope rows: ``out_of_scope``, the task's label and reply."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ratchet.bootstrap import initialize
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings
from services.runner.tools.route import RouteTool
from tests.helpers.oos_task import OOS, serving_tree

pytestmark = pytest.mark.anyio


@pytest.fixture
def oos_runtime(tmp_path: Path, source_repo: Path) -> Iterator[RunnerRuntime]:
    """A Runner serving the toy task, its state's abstain threshold at 0.9."""
    settings = RunnerSettings(home=tmp_path / "home", project_root=source_repo, port=0)
    initialize(settings)
    root = serving_tree(tmp_path / "tree")
    runtime = RunnerRuntime(
        settings, open_state_manager(settings), open_object_store(settings), project_root=root
    )
    data = runtime.manager.read_active()
    assert data is not None
    state = dict(data.document.data)
    state["params"] = {**state["params"], "abstain_threshold": {"value": 0.9, "low": 0, "high": 1}}
    runtime.served = replace(runtime.served, router=runtime.factory.build(state))
    yield runtime
    runtime.stop()


async def test_an_out_of_scope_message_gets_the_tasks_label_and_reply(
    oos_runtime: RunnerRuntime,
) -> None:
    tool = RouteTool(oos_runtime)
    out = await tool.route("could you recipe pasta football please")
    inside = await tool.route("set the alarm to wake me early", conversation_id="c-1")
    assert out.out_of_scope and out.intent == OOS
    assert out.reply == "Sorry, that is not something I can help with here."
    assert out.reply_id is None  # the task's reply, not a state variant
    assert {a.intent for a in out.alternatives} <= {"weather", "music", "alarm", "lights"}
    assert not inside.out_of_scope and inside.intent == "alarm"
    turns = oos_runtime.sessions.conversation(out.conversation_id)
    assert turns is not None and turns["turns"][0]["intent"] == OOS  # what feedback joins to
