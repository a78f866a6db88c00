"""State Manager behaviour on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ratchet.errors import NotFoundError, PinnedError, StaleRevisionError
from ratchet.objects import ObjectStore
from ratchet.state import (
    ACTIVE_KEY,
    ActiveState,
    Canary,
    MigrationRegistry,
    PointerAction,
    StateDocument,
    StateManager,
)
from tests.helpers import rollouts


def released(manager: StateManager, version: str, data: dict[str, object]) -> None:
    manager.activate(version, StateDocument(data=data), actor="test", reason=f"release {version}")


def test_staging_starts_from_the_active_state(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"threshold": 0.5})
    staging = manager.read_staging()
    assert staging.data == {"threshold": 0.5}
    assert staging.revision == 0


def test_compare_and_swap_refuses_a_stale_writer(store: ObjectStore) -> None:
    manager = StateManager(store)
    base = manager.read_staging()
    manager.write_staging({"x": 1}, expected_revision=base.revision, actor="a")
    with pytest.raises(StaleRevisionError) as info:
        manager.write_staging({"x": 2}, expected_revision=base.revision, actor="b")
    assert (info.value.expected, info.value.actual) == (0, 1)
    assert manager.read_staging().data == {"x": 1}


def test_update_staging_reapplies_on_conflict(store: ObjectStore) -> None:
    manager = StateManager(store)
    other = StateManager(store)
    calls = []

    def change(data: dict[str, object]) -> dict[str, object]:
        calls.append(dict(data))
        if len(calls) == 1:  # another writer sneaks in between our read and our swap
            other.update_staging(lambda d: {**d, "theirs": True}, actor="other")
        return {**data, "mine": True}

    result = manager.update_staging(change, actor="me")
    assert result.data == {"theirs": True, "mine": True}
    assert len(calls) == 2 and calls[1] == {"theirs": True}


def test_every_revision_is_kept_in_history(store: ObjectStore) -> None:
    manager = StateManager(store)

    def setting(i: int) -> Callable[[dict[str, object]], dict[str, object]]:
        return lambda data: {**data, "i": i}

    for i in range(5):
        manager.update_staging(setting(i), actor="t")
    assert manager.staging_history() == [0, 1, 2, 3, 4, 5]
    assert manager.staging_at(3).data == {"i": 2}
    assert manager.staging_at(3).updated_by == "t"


def test_activate_moves_pointer_and_materializes_active(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"a": 1})
    released(manager, "v0.1.1", {"a": 2})
    active = manager.read_active()
    assert active is not None
    assert (active.version, active.document.data) == ("v0.1.1", {"a": 2})
    assert json.loads(store.get(ACTIVE_KEY).data)["data"] == {"a": 2}
    assert [p.version for p in manager.pointer_history()] == ["v0.1.0", "v0.1.1"]


def test_rollback_returns_to_the_previous_version(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"a": 1})
    released(manager, "v0.1.1", {"a": 2})
    pointer = manager.rollback(actor="human", reason="bad patch")
    assert pointer.version == "v0.1.0" and pointer.action == "rollback"
    assert manager.read_active().document.data == {"a": 1}  # type: ignore[union-attr]
    history = manager.pointer_history()
    assert [(p.version, p.actor, p.reason) for p in history][-1] == ("v0.1.0", "human", "bad patch")


def test_rollback_to_an_unknown_version_is_not_found(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {})
    with pytest.raises(NotFoundError, match=r"v9\.9\.9"):
        manager.rollback(actor="h", reason="", to="v9.9.9")
    with pytest.raises(NotFoundError, match="only version"):
        manager.rollback(actor="h", reason="")


def test_pin_refuses_moves_until_unpinned(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {})
    manager.pin(actor="oncall", reason="incident 42")
    with pytest.raises(PinnedError, match="incident 42"):
        released(manager, "v0.1.1", {})
    with pytest.raises(PinnedError):
        manager.rollback(actor="h", reason="", to="v0.1.0")
    assert manager.pointer().version == "v0.1.0"  # type: ignore[union-attr]
    manager.unpin(actor="oncall", reason="resolved")
    released(manager, "v0.1.1", {})
    assert manager.pointer().version == "v0.1.1"  # type: ignore[union-attr]
    actions = [p.action for p in manager.pointer_history()]
    assert actions == ["activate", "pin", "unpin", "activate"]


def test_subscribers_hear_local_and_remote_moves(store: ObjectStore) -> None:
    publisher, listener = StateManager(store), StateManager(store)
    local: list[ActiveState] = []
    remote: list[ActiveState] = []
    publisher.subscribe(local.append)
    listener.subscribe(remote.append)
    released(publisher, "v0.1.0", {"a": 1})
    assert [s.version for s in local] == ["v0.1.0"]
    assert listener.poll() is True  # another process sees it on its next poll
    assert listener.poll() is False  # and only once
    assert [s.version for s in remote] == ["v0.1.0"]


def test_a_failing_subscriber_does_not_starve_others(store: ObjectStore) -> None:
    manager = StateManager(store)
    seen: list[str] = []

    def broken(state: ActiveState) -> None:
        raise RuntimeError("boom")

    manager.subscribe(broken)
    manager.subscribe(lambda s: seen.append(s.version))
    released(manager, "v0.1.0", {})
    assert seen == ["v0.1.0"]


def test_watcher_thread_notifies_on_remote_move(store: ObjectStore) -> None:
    import threading

    listener = StateManager(store)
    heard = threading.Event()
    listener.subscribe(lambda s: heard.set() if s.version == "v0.2.0" else None)
    watcher = listener.watch(interval=0.02)
    try:
        released(StateManager(store), "v0.2.0", {})
        assert heard.wait(10)
    finally:
        watcher.stop()


def test_migrations_upgrade_staging_and_active(store: ObjectStore) -> None:
    old = StateManager(store)
    released(old, "v0.1.0", {"threshold": 0.5})
    old.read_staging()

    registry = MigrationRegistry()
    registry.register(1, lambda d: {"params": {"threshold": d["threshold"]}})
    new = StateManager(store, migrations=registry)
    staging = new.read_staging()
    assert (staging.schema_version, staging.data) == (2, {"params": {"threshold": 0.5}})
    assert staging.updated_by == "migration"
    active = new.read_active()
    assert active is not None and active.document.schema_version == 2


def test_a_document_newer_than_the_code_is_refused(store: ObjectStore) -> None:
    from ratchet.errors import CorruptDocumentError

    manager = StateManager(store)
    manager.activate("v1.0.0", StateDocument(schema_version=3), actor="t", reason="")
    with pytest.raises(CorruptDocumentError, match="newer than this code"):
        manager.read_active()


def test_migrations_load_from_a_directory(tmp_path: Path) -> None:
    (tmp_path / "0001_nest.py").write_text(
        "FROM_VERSION = 1\ndef migrate(data):\n    return {'nested': data}\n"
    )
    registry = MigrationRegistry.from_directory(tmp_path)
    assert registry.current_version == 2
    assert registry.upgrade(1, {"a": 1}) == (2, {"nested": {"a": 1}})


def test_repair_rewrites_a_stale_active_copy(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"a": 1})
    store.put(ACTIVE_KEY, b"{ torn")
    fixed = manager.repair()
    assert any("rewrote" in f for f in fixed)
    assert json.loads(store.get(ACTIVE_KEY).data)["data"] == {"a": 1}
    assert manager.repair() == []


def canary_of(
    manager: StateManager, version: str, data: dict[str, object], weight: float
) -> Canary:
    return rollouts.canary_of(manager, version, StateDocument(data=data), weight)


def test_a_canary_is_served_beside_the_stable_version(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"threshold": 0.5})
    canary = canary_of(manager, "v0.2.0", {"threshold": 0.7}, 0.1)
    pointer = manager.set_canary(lambda current: canary, actor="rollout", reason="step 1")
    assert (pointer.version, pointer.action) == ("v0.1.0", PointerAction.CANARY)
    assert pointer.canary == canary
    assert manager.read_active().document.data == {"threshold": 0.5}  # type: ignore[union-attr]
    assert manager.canary_state(canary).data == {"threshold": 0.7}
    assert json.loads(store.get(ACTIVE_KEY).data)["data"] == {"threshold": 0.5}


def test_activating_or_rolling_back_ends_the_canary(store: ObjectStore) -> None:
    manager = StateManager(store)
    released(manager, "v0.1.0", {"threshold": 0.5})
    released(manager, "v0.1.1", {"threshold": 0.6})
    canary = canary_of(manager, "v0.2.0", {"threshold": 0.7}, 0.5)
    manager.set_canary(lambda current: canary, actor="rollout", reason="step 2")
    assert manager.rollback(actor="human", reason="bad").canary is None
    manager.set_canary(lambda current: canary, actor="rollout", reason="again")
    promoted = manager.activate(
        "v0.2.0", manager.canary_state(canary), actor="rollout", reason="promoted"
    )
    assert (promoted.version, promoted.canary) == ("v0.2.0", None)


def test_a_canary_needs_a_stable_version_and_an_unpinned_pointer(store: ObjectStore) -> None:
    manager = StateManager(store)
    canary = canary_of(manager, "v0.2.0", {}, 0.1)
    with pytest.raises(NotFoundError):
        manager.set_canary(lambda current: canary, actor="rollout", reason="step 1")
    released(manager, "v0.1.0", {})
    manager.pin(actor="human", reason="freeze")
    with pytest.raises(PinnedError):
        manager.set_canary(lambda current: canary, actor="rollout", reason="step 1")
