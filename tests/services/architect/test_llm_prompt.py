"""The LLM coder's standing instructions say what the router does in the task's own words."""

from __future__ import annotations

import pytest

from ratchet.tasks import load_task
from services.architect.coders.llm.prompt import system_prompt
from tests.conftest import PROJECT_ROOT


@pytest.mark.parametrize("name", ["banking77", "hwu64"])
def test_the_system_prompt_names_the_task_its_description_and_label_count(name: str) -> None:
    task = load_task(PROJECT_ROOT / "tasks" / name)
    prompt = system_prompt(task)
    assert f"task {name} (intent)" in prompt
    assert task.manifest.description in prompt
    assert f"The task has {len(task.labels)} intents." in prompt
    assert "{task}" not in prompt and "out of scope" not in prompt  # neither has oos rows
    other = "hwu64" if name == "banking77" else "banking77"
    assert other not in prompt.lower()
