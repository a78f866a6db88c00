"""Rule mining from corrected mistakes, and the dev-accuracy gate that keeps rules."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet import datasets
from ratchet.datasets import Example
from services.runner.agent.model import train
from services.runner.agent.router import IntentRouter
from services.runner.agent.state import Features, Rule, default_state
from services.tuner.algorithms.rules import (
    Candidate,
    Mistake,
    content_words,
    mine_rules,
    rule_id,
    select_rules,
)
from tests.conftest import PROJECT_ROOT

# Messages about a lost card keep landing on card_arrival; "stolen" says otherwise.
MISTAKES = [
    Mistake("My card was stolen yesterday", "card_arrival", "lost_or_stolen_card"),
    Mistake("someone stolen my card what now", "card_arrival", "lost_or_stolen_card"),
    Mistake("Card stolen, please block it", "card_arrival", "lost_or_stolen_card"),
    Mistake("I think my wallet got stolen", "top_up", "lost_or_stolen_card"),
    Mistake("when does my card arrive", "top_up", "card_arrival"),  # support 1 only
]
CORPUS = [
    Example("my card was stolen", "lost_or_stolen_card"),
    Example("stolen card, help", "lost_or_stolen_card"),
    Example("my stolen card is blocked?", "lost_or_stolen_card"),
    Example("how long until my card arrives", "card_arrival"),
    Example("the card I ordered has not come", "card_arrival"),
    Example("will my card arrive soon", "card_arrival"),
    Example("top up my card", "top_up"),
]


def test_mining_finds_the_rule_the_mistakes_share() -> None:
    candidates = mine_rules(MISTAKES, CORPUS)
    assert candidates[0] == Candidate(
        "rule-lost_or_stolen_card-stolen", ("stolen",), "lost_or_stolen_card", 4, 1.0
    )
    assert candidates[0].as_rule() == {
        "id": "rule-lost_or_stolen_card-stolen",
        "all_of": ["stolen"],
        "intent": "lost_or_stolen_card",
        "support": 4,
        "confidence": 1.0,
    }
    Rule.model_validate(candidates[0].as_rule())  # the state's shape
    # "card" + "stolen" fires only where "stolen" alone already does: pruned as redundant.
    assert all(c.all_of != ("card", "stolen") for c in candidates)
    # "card" is in 3 lost-card corrections but also in a card_arrival one: ambiguous.
    assert all(c.all_of != ("card",) for c in candidates)


def test_support_threshold() -> None:
    assert mine_rules(MISTAKES, CORPUS, min_support=5) == []
    assert [c.intent for c in mine_rules(MISTAKES, CORPUS, min_support=4)] == [
        "lost_or_stolen_card"
    ]
    # A text corrected twice is one piece of evidence, and right predictions are no mistakes.
    repeated = [MISTAKES[0]] * 5 + [Mistake("stolen", "lost_or_stolen_card", "lost_or_stolen_card")]
    assert mine_rules(repeated, CORPUS, min_support=2) == []


def test_confidence_threshold() -> None:
    # Half the reference messages with "stolen" are about something else.
    noisy = [*CORPUS, *(Example(f"stolen phone {i}", "card_arrival") for i in range(3))]
    assert all(c.all_of != ("stolen",) for c in mine_rules(MISTAKES, noisy))
    loose = mine_rules(MISTAKES, noisy, min_confidence=0.5)
    stolen = next(c for c in loose if c.all_of == ("stolen",))
    assert stolen.confidence == pytest.approx(0.5)
    # Words no reference example has give no evidence, so no rule.
    assert mine_rules(MISTAKES, [Example("hello", "greeting")]) == []


def test_stopwords_are_ignored() -> None:
    assert content_words("What is my card's PIN? I'd like it") == {"card's", "pin", "i'd", "like"}
    mistakes = [Mistake(f"what is the {w}", "a", "b") for w in ("fee", "rate", "limit")]
    corpus = [Example("what is the fee", "b")]
    assert mine_rules(mistakes, corpus) == []  # only stopwords are shared


def test_ids_and_order_are_deterministic() -> None:
    assert rule_id("top_up", ["pending", "card"]) == "rule-top_up-card-pending"
    first = mine_rules(MISTAKES, CORPUS, min_support=1, min_confidence=0.5)
    second = mine_rules(list(reversed(MISTAKES)), list(reversed(CORPUS)), 1, 0.5)
    assert first == second and len(first) > 1
    keys = [(-c.confidence, -c.support, -len(c.all_of), c.id) for c in first]
    assert keys == sorted(keys)


def candidate(word: str) -> Candidate:
    return Candidate(rule_id("x", [word]), (word,), "x", 3, 1.0)


def test_gate_keeps_rules_that_help_and_drops_ones_that_hurt() -> None:
    effect = {"good": 0.02, "bad": -0.05, "neutral": 0.0, "better": 0.01}
    calls: list[list[str]] = []

    def evaluate(rules: list[dict[str, Any]]) -> float:
        calls.append([r["id"] for r in rules])
        return 0.8 + sum(effect.get(r["all_of"][0], 0.0) for r in rules)

    existing = [{"id": "old", "all_of": ["old"], "intent": "y"}]
    selection = select_rules([candidate(w) for w in effect], existing, evaluate)
    assert [c.all_of[0] for c in selection.kept] == ["good", "better"]
    assert [r["id"] for r in selection.rules] == ["old", *(c.id for c in selection.kept)]
    assert selection.baseline == pytest.approx(0.8)
    assert selection.score == pytest.approx(0.83)
    assert selection.evaluations == len(calls) == 5

    ties = select_rules([candidate(w) for w in effect], existing, evaluate, keep_ties=True)
    assert [c.all_of[0] for c in ties.kept] == ["good", "neutral", "better"]
    assert ties.score == pytest.approx(0.83)


def test_gate_is_bounded_and_skips_existing_rules() -> None:
    calls = 0

    def evaluate(rules: list[dict[str, Any]]) -> float:
        nonlocal calls
        calls += 1
        return float(len(rules))

    words = [f"w{i}" for i in range(20)]
    existing = [candidate("w0").as_rule()]
    assert select_rules([candidate(w) for w in words], existing, evaluate, max_rules=3).kept == [
        candidate("w1"),
        candidate("w2"),
        candidate("w3"),
    ]
    assert calls == 4
    calls = 0
    assert len(select_rules([candidate(w) for w in words], [], evaluate, max_tries=5).kept) == 5
    assert calls == 6


def test_mined_rules_do_not_lower_banking77_dev_accuracy() -> None:
    """The real loop: the centroid arm's mistakes on train, gated by dev accuracy."""
    labels = datasets.labels(PROJECT_ROOT)
    train_split = datasets.load(PROJECT_ROOT, "train")
    dev = datasets.load(PROJECT_ROOT, "dev")
    model = train(train_split, labels, Features())
    state = default_state(labels)
    router = IntentRouter(model, state)
    mistakes = [
        Mistake(e.text, predicted, e.intent)
        for e in train_split[::3]  # a sample, as corrections would be
        if (predicted := router.predict(e.text, "centroid").intent) != e.intent
    ]
    candidates = mine_rules(mistakes, train_split)
    assert candidates

    def dev_accuracy(rules: list[dict[str, Any]]) -> float:
        ruled = IntentRouter(model, state.model_copy(update={"rules": [Rule(**r) for r in rules]}))
        return sum(ruled.predict(e.text, "centroid").intent == e.intent for e in dev) / len(dev)

    selection = select_rules(candidates, [], dev_accuracy, max_rules=10, max_tries=30)
    print(
        f"mistakes={len(mistakes)} candidates={len(candidates)} kept={len(selection.kept)} "
        f"dev {selection.baseline:.4f} -> {selection.score:.4f}; "
        f"rules={[c.id for c in selection.kept]}"
    )
    assert selection.kept
    assert selection.score >= selection.baseline
    assert dev_accuracy(selection.rules) == selection.score
