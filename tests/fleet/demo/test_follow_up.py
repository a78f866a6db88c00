"""The demo's second job: feedback written only under the objective, naming what went wrong."""

from __future__ import annotations

from fleet.demo.follow_up import feedback_text, routing_objective, served_accuracy
from fleet.demo.traffic import Turn
from tests.conftest import PROJECT_ROOT


def turns(phase: str, right: int, wrong: dict[str, int]) -> list[Turn]:
    made = [Turn(0.0, phase, "card_arrival", "card_arrival", "v0.2.0") for _ in range(right)]
    for intent, count in wrong.items():
        made += [Turn(0.0, phase, intent, "card_arrival", "v0.2.0") for _ in range(count)]
    return made


def test_under_the_objective_the_feedback_names_the_accuracy_and_the_worst_intents() -> None:
    served = turns("after", 90, {"pin_blocked": 6, "top_up_failed": 3, "lost_card": 1})
    served += turns("learn", 0, {"exchange_rate": 50})  # another phase: not counted
    assert served_accuracy(served, "after") == 0.9
    text = feedback_text(served, "after", "v0.2.0", 0.95, worst=2)
    assert text is not None
    assert "misrouted on v0.2.0: 90.0%" in text and "95% routing_accuracy" in text
    assert "pin_blocked, top_up_failed:" in text and "lost_card" not in text
    assert "exchange_rate" not in text


def test_at_or_over_the_objective_or_without_traffic_nothing_is_asked() -> None:
    assert feedback_text(turns("after", 95, {"pin_blocked": 5}), "after", "v0.2.0", 0.95) is None
    assert feedback_text(turns("learn", 1, {}), "after", "v0.2.0", 0.95) is None
    assert served_accuracy([], "after") is None


def test_the_objective_is_the_projects_routing_slo() -> None:
    assert routing_objective(PROJECT_ROOT) == 0.95
