"""After an abort, main no longer carries the aborted release: its revert is released and served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ratchet.bootstrap import initialize, release_store
from ratchet.config import CommonSettings, RolloutMode
from ratchet.promotion import release_state
from ratchet.rollouts.delivery import Deliverer
from ratchet.rollouts.manual import end_by_hand
from ratchet.rollouts.model import Outcome, RolloutStatus
from ratchet.rollouts.revert import revert_aborted
from ratchet.state import StateDocument, open_state_manager
from ratchet.vcs import ReleaseKind
from tests.conftest import PROJECT_ROOT, git


@pytest.fixture
def home(tmp_path: Path, source_repo: Path) -> CommonSettings:
    (source_repo / "ci").mkdir()
    shutil.copy(PROJECT_ROOT / "ci" / "budgets.json", source_repo / "ci" / "budgets.json")
    git(source_repo, "add", "-A")
    git(source_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "budgets")
    settings = CommonSettings(
        home=tmp_path / "home", project_root=source_repo, rollout=RolloutMode.PROGRESSIVE
    )
    initialize(settings)
    return settings


def test_an_aborted_release_is_reverted_on_main_and_the_revert_served(
    home: CommonSettings,
) -> None:
    manager, releases = open_state_manager(home), release_store(home)
    deliverer = Deliverer.of(home, manager)
    stable = manager.read_active()
    assert stable is not None
    bad = StateDocument(data={**stable.document.data, "weak": True})
    release_state(
        manager,
        releases,
        bad,
        kind=ReleaseKind.PATCH,
        author="tuner",
        reason="a weak patch",
        deliverer=deliverer,
    )
    assert manager.pointer().canary.version == "v0.1.1"  # type: ignore[union-attr]

    ended = end_by_hand(
        manager,
        deliverer.rollouts,
        Outcome.ABORT,
        reason="worse live",
        first_weight=0.1,
        releases=releases,
    )
    assert ended.status == RolloutStatus.ABORTED
    revert = releases.latest()
    assert revert is not None and revert.version == "v0.1.2"
    assert (revert.metadata.model_extra or {})["reverts"] == "v0.1.1"
    assert "rollout 1 aborted it (worse live)" in revert.metadata.reason
    pointer = manager.pointer()
    assert pointer is not None and (pointer.version, pointer.canary) == ("v0.1.2", None)
    committed = json.loads(git(home.workspace_path, "show", "HEAD:state/active.state.json"))
    assert "weak" not in committed["data"] and committed["data"] == stable.document.data
    assert manager.read_active().document.data == stable.document.data  # type: ignore[union-attr]
    assert revert_aborted(releases, manager, ended) is None  # once
