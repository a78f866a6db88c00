"""Staging follows the active release: after an Architect release (new arms and params)
or a rollback, feedback is applied to staging rebased on the active state, keeping the
Tuner's unreleased work (feedback counts, posteriors of surviving arms, its tuned values)."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.bootstrap import release_store
from ratchet.errors import ConflictError
from ratchet.promotion import release_state
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, StateManager, open_state_manager
from ratchet.vcs import ReleaseKind
from services.tuner.intake import APPLIED, WATERMARK, Intake
from services.tuner.rebase import BASED_ON, follow_active, rebased_data
from services.tuner.settings import TunerSettings
from tests.conftest import git
from tests.services.tuner.conftest import answered

LABELS = ("card_arrival", "lost_or_stolen_card")


def feedback(intake: Intake, sessions: SessionStore, conversation: str, arm: str) -> None:
    answered(sessions, conversation, arm=arm)
    intake.submit(conversation, None, "card_arrival", None, None)  # confirms: reward 1
    intake.apply_pending()


def architect_release(manager: StateManager) -> dict[str, Any]:
    """A template's minor release: an `ensemble` arm and its params, `blend` and
    `blend_weight` gone, `temperature` moved by hand; released over the active state."""
    active = manager.read_active()
    assert active is not None
    data = active.document.data
    arms = {k: v for k, v in data["strategy"]["arms"].items() if k != "blend"}
    arms["ensemble"] = {"alpha": 6.0, "beta": 1.0}
    params = {k: v for k, v in data["params"].items() if k != "blend_weight"}
    params["temperature"] = {"value": 0.2, "low": 0.01, "high": 1.0}
    params["ensemble_w_linear"] = {"value": 0.4, "low": 0.0, "high": 1.0}
    new = {**data, "strategy": {**data["strategy"], "arms": arms}, "params": params}
    document = active.document.model_copy(update={"data": new})
    manager.activate("v0.2.0", document, actor="architect", reason="job 1: ensemble")
    return new


def test_feedback_after_an_architect_release_lands_on_its_state(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    manager = open_state_manager(tuner_settings)
    intake = Intake(sessions, manager, LABELS)
    feedback(intake, sessions, "c1", "centroid")  # unreleased work on v0.1.0 ...
    manager.update_staging(  # ... and a tuned param the release leaves alone
        lambda d: {**d, "params": {**d["params"], "knn_k": {**d["params"]["knn_k"], "value": 7}}},
        actor="tuner",
    )
    before = manager.read_staging().data
    released = architect_release(manager)
    feedback(intake, sessions, "c2", "centroid")
    staging = manager.read_staging()
    arms, params = staging.data["strategy"]["arms"], staging.data["params"]
    assert set(arms) == {"centroid", "ensemble"}  # blend dropped, ensemble added
    assert arms["ensemble"] == released["strategy"]["arms"]["ensemble"]
    centroid = released["strategy"]["arms"]["centroid"]["alpha"]
    assert arms["centroid"]["alpha"] == centroid + 2  # one unreleased feedback, one new
    assert before["strategy"]["arms"]["centroid"]["alpha"] == centroid + 1
    assert set(params) == set(released["params"])  # blend_weight dropped
    assert params["temperature"] == released["params"]["temperature"]  # the release's
    assert params["ensemble_w_linear"]["value"] == 0.4
    assert params["knn_k"]["value"] == 7  # the Tuner's, untouched by the release
    tuning = staging.tuning or {}
    assert (tuning[APPLIED], tuning[WATERMARK]) == (2, 2)
    assert tuning[BASED_ON] == 1  # the Architect's pointer revision


def test_a_rebase_is_written_once(tuner_settings: TunerSettings, sessions: SessionStore) -> None:
    manager = open_state_manager(tuner_settings)
    feedback(Intake(sessions, manager, LABELS), sessions, "c1", "blend")
    architect_release(manager)
    first = follow_active(manager)
    again = follow_active(manager)
    assert again.revision == first.revision
    assert "blend" not in first.data["strategy"]["arms"]


def test_feedback_on_an_arm_the_release_dropped_is_counted_not_applied(
    tuner_settings: TunerSettings, sessions: SessionStore
) -> None:
    manager = open_state_manager(tuner_settings)
    intake = Intake(sessions, manager, LABELS)
    released = architect_release(manager)
    feedback(intake, sessions, "c1", "blend")
    staging = manager.read_staging()
    assert staging.data["strategy"] == released["strategy"]
    assert (staging.tuning or {})[APPLIED] == 1


def test_a_rollback_keeps_only_the_work_not_released() -> None:
    base = {"strategy": {"arms": {"a": {"alpha": 5.0, "beta": 2.0}}}, "rules": ["r1"]}
    staging = {"strategy": {"arms": {"a": {"alpha": 7.0, "beta": 2.0}}}, "rules": ["r1"]}
    older = {"strategy": {"arms": {"a": {"alpha": 3.0, "beta": 1.0}}}, "rules": []}
    merged = rebased_data(base, staging, older)
    assert merged == {"strategy": {"arms": {"a": {"alpha": 5.0, "beta": 1.0}}}, "rules": []}


def test_a_param_is_merged_whole_and_an_unknown_base_gives_the_release_its_values() -> None:
    base = {"params": {"p": {"value": 0.5, "low": 0.0, "high": 1.0}}}
    staging = {"params": {"p": {"value": 0.9, "low": 0.0, "high": 1.0}}}
    narrowed = {"params": {"p": {"value": 0.5, "low": 0.0, "high": 0.6}}}
    assert rebased_data(base, staging, narrowed) == narrowed  # never 0.9 over [0, 0.6]
    assert rebased_data(None, staging, narrowed) == narrowed


def test_staging_from_before_the_record_is_placed_by_the_history(
    tuner_settings: TunerSettings,
) -> None:
    manager = open_state_manager(tuner_settings)
    old = manager.read_staging()  # made on v0.1.0 with no `based_on`
    assert BASED_ON not in (old.tuning or {})
    released = architect_release(manager)
    followed = follow_active(manager)
    assert followed.data == released and isinstance(followed, StateDocument)


def test_a_patch_made_before_the_pointer_moved_is_not_released(
    tuner_settings: TunerSettings,
) -> None:
    manager = open_state_manager(tuner_settings)
    staging = manager.read_staging()  # made on revision 0
    architect_release(manager)
    with pytest.raises(ConflictError, match="moved since this state was made"):
        release_state(
            manager,
            release_store(tuner_settings),
            staging,
            kind=ReleaseKind.PATCH,
            author="tuner",
            reason="stale",
            parent_revision=0,
        )
    assert [p.version for p in manager.pointer_history()] == ["v0.1.0", "v0.2.0"]
    assert git(tuner_settings.workspace_path, "tag", "-l") == "v0.1.0"
