"""The LLM coder's question: its standing instructions say what the router does in the
task's own words, and the most related template keeps its room when the repository
outgrows the budget."""

from __future__ import annotations

import pytest

from examples.catalog import library
from ratchet.tasks import load_task
from services.architect.coders.base import CodingRequest
from services.architect.coders.llm.prompt import build_prompt, system_prompt
from services.architect.coders.template import rank
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


FEEDBACK = "too many card-delivery questions are misrouted"


def test_the_most_related_template_keeps_its_room_when_files_fill_the_budget() -> None:
    catalog = library()
    best = rank(catalog, FEEDBACK)[0].template.id
    budget = 60_000  # well under what the Runner's files and tests take
    prompt = build_prompt(CodingRequest("j", FEEDBACK), PROJECT_ROOT, catalog, budget)
    assert prompt.omitted, "the files must overflow the budget for this test to mean anything"
    assert prompt.examples[:1] == [best]
    assert f"Example template {best}" in prompt.messages[-1]["content"]
    assert prompt.chars <= budget + 10_000  # the budget counts files and examples only


def test_a_template_larger_than_a_quarter_of_the_budget_reserves_nothing() -> None:
    catalog = library()
    prompt = build_prompt(CodingRequest("j", FEEDBACK), PROJECT_ROOT, catalog, 8_000)
    assert prompt.examples == []  # the best template (about 6,000 characters) has no room
