"""What the LLM coder's first question holds when the repository outgrows its budget."""

from __future__ import annotations

from examples.catalog import library
from services.architect.coders.base import CodingRequest
from services.architect.coders.llm.prompt import build_prompt, rank
from tests.conftest import PROJECT_ROOT

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
