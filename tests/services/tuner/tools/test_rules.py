"""What ``mine_rules`` writes to staging: the kept rules staging lacks, appended once."""

from __future__ import annotations

from typing import Any

from ratchet.state import StateDocument
from services.tuner.tools.rules import with_rules

RULE = {"id": "r1", "all_of": ["refund"], "intent": "request_refund"}


def document(rules: list[dict[str, Any]]) -> StateDocument:
    return StateDocument(data={"params": {}, "rules": rules}, revision=3)


def test_kept_rules_are_appended_after_the_present_ones() -> None:
    present = {**RULE, "id": "r0"}
    change = with_rules(document([present]), [RULE])
    assert change is not None
    data, _ = change
    assert data["rules"] == [present, RULE]


def test_a_rule_already_in_staging_is_not_added_twice() -> None:
    change = with_rules(document([RULE]), [RULE])
    assert change is not None and change[0]["rules"] == [RULE]


def test_no_kept_rule_means_no_write() -> None:
    assert with_rules(document([RULE]), []) is None
