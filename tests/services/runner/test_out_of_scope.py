"""Out of scope: a task with out-of-scope rows lets the state's threshold say "no intent
fits"; every arm meets the same rule; a task without such rows never abstains."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from services.runner.agent.build import RouterFactory
from services.runner.agent.router import IntentRouter
from services.runner.agent.state import default_state
from tests.helpers.oos_task import OOS, serving_tree

OOS_REPLY = "Sorry, that is not something I can help with here."


def state(root: Path, threshold: float, **changes: Any) -> dict[str, Any]:
    data = default_state(datasets.labels(root)).model_dump(mode="json")
    data["params"]["abstain_threshold"]["value"] = threshold
    return {**data, **changes}


def factory(root: Path, tmp_path: Path) -> RouterFactory:
    return RouterFactory(FilesystemObjectStore(tmp_path / "objects"), root)


def dev_accuracy(router: IntentRouter, root: Path, arm: str) -> tuple[float, int]:
    """(accuracy on dev, out-of-scope answers): an OOS row is right when answered OOS."""
    dev = datasets.load(root, "dev")
    answers = [router.predict(e.text, arm) for e in dev]  # type: ignore[arg-type]
    right = sum(a.intent == e.intent for a, e in zip(answers, dev, strict=True))
    return right / len(dev), sum(a.out_of_scope for a in answers)


def test_training_skips_the_out_of_scope_rows(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree")
    router = factory(root, tmp_path).build(state(root, 0.0))
    in_scope = [e for e in datasets.load(root, "train") if e.intent != OOS]
    assert router.model.labels == datasets.labels(root) and OOS not in router.model.labels
    assert router.model.examples.shape[0] == len(in_scope) < len(datasets.load(root, "train"))


def test_threshold_zero_never_abstains_and_a_higher_one_answers_out_of_scope(
    tmp_path: Path,
) -> None:
    root = serving_tree(tmp_path / "tree")
    build = factory(root, tmp_path).build
    for arm in ("centroid", "knn", "blend"):
        never, none = dev_accuracy(build(state(root, 0.0)), root, arm)
        tuned, some = dev_accuracy(build(state(root, 0.9)), root, arm)
        assert none == 0 and some > 0, arm
        assert tuned > never, (arm, never, tuned)
    answer = build(state(root, 0.9)).predict("could you recipe pasta football please", "centroid")
    assert answer.out_of_scope and answer.intent == OOS and answer.rule is None
    assert answer.reply is not None and answer.reply.text == OOS_REPLY
    assert len(answer.alternatives) == 3
    assert all(a.intent in datasets.labels(root) for a in answer.alternatives)
    inside = build(state(root, 0.9)).predict("set the alarm to wake me early", "centroid")
    assert not inside.out_of_scope and inside.intent == "alarm"


def test_any_arm_meets_the_rule_a_template_arm_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template's arm plugs in at ``_scores``; the abstain check comes after it."""
    root = serving_tree(tmp_path / "tree")
    router = factory(root, tmp_path).build(state(root, 0.5))
    flat = np.zeros(len(router.model.labels))
    monkeypatch.setattr(router, "_scores", lambda text, arm: flat)
    template_arm: Any = "linear"  # an arm a template adds to ArmName
    answer = router.predict("set the alarm to wake me early", template_arm)
    assert answer.out_of_scope and answer.intent == OOS and str(answer.arm) == "linear"


def test_a_matched_rule_overrides_and_never_abstains(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree")
    rules = [{"id": "r1", "all_of": ["recipe"], "intent": "music", "confidence": 0.9}]
    router = factory(root, tmp_path).build(state(root, 1.0, rules=rules))
    answer = router.predict("could you recipe pasta football please", "centroid")
    assert (answer.intent, answer.rule, answer.out_of_scope) == ("music", "r1", False)


def test_a_task_without_out_of_scope_rows_never_abstains(tmp_path: Path) -> None:
    root = serving_tree(tmp_path / "tree")
    folder = root / "tasks" / "oos-toy"
    for name in ("train.csv", "test.csv"):  # the label is declared, no row has it
        with (folder / name).open(newline="") as f:
            rows = [row for row in csv.reader(f) if row[1] != OOS]
        with (folder / name).open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    assert not datasets.task(root).has_oos()
    router = factory(root, tmp_path).build(state(root, 1.0))
    assert router.model.scope is None
    _, abstained = dev_accuracy(router, root, "centroid")
    assert abstained == 0


def test_a_rule_to_the_out_of_scope_label_answers_out_of_scope(tmp_path: Path) -> None:
    """A rule mined from turns corrected to "out of scope" abstains, whatever the threshold."""
    root = serving_tree(tmp_path / "tree")
    rules = [{"id": "r-oos", "all_of": ["alarm"], "intent": OOS, "confidence": 0.95}]
    router = factory(root, tmp_path).build(state(root, 0.0, rules=rules))
    answer = router.predict("set the alarm to wake me early", "centroid")
    assert (answer.intent, answer.rule, answer.out_of_scope) == (OOS, "r-oos", True)
    assert answer.confidence == 0.95 and answer.alternatives[0].intent == "alarm"
