"""Staging's place against the pointer: in line after its own releases and pins, left
behind by a release of another state or a rollback, with the state it was made from."""

from __future__ import annotations

from ratchet.objects import ObjectStore
from ratchet.state import StateDocument, StateManager
from ratchet.state.drift import drift


def served(store: ObjectStore) -> StateManager:
    manager = StateManager(store)
    manager.activate("v0.1.0", StateDocument(data={"w": 1}), actor="init", reason="first")
    return manager


def tuner_release(manager: StateManager, version: str, change: dict[str, int]) -> int:
    """Staging changed and released as is, as the Tuner's promotion does."""
    staging = manager.update_staging(lambda d: {**d, **change}, actor="tuner")
    return manager.activate(version, staging, actor="tuner", reason="patch").revision


def test_staging_is_in_line_after_its_own_release_and_a_pin(store: ObjectStore) -> None:
    manager = served(store)
    first = manager.read_staging()
    tuner_release(manager, "v0.1.1", {"w": 2})
    manager.pin(actor="oncall", reason="quiet")
    staging = manager.update_staging(lambda d: {**d, "w": 3}, actor="tuner")
    placed = drift(manager, staging, based_on=0)
    assert placed is not None and not placed.left_behind
    assert placed.pointer.revision == 2  # init, release, pin
    assert drift(manager, first, based_on=None) is not None


def test_a_release_of_another_state_leaves_staging_behind_on_its_last_release(
    store: ObjectStore,
) -> None:
    manager = served(store)
    made_on = tuner_release(manager, "v0.1.1", {"w": 2})
    staging = manager.update_staging(lambda d: {**d, "w": 3}, actor="tuner")
    new = StateDocument(data={"w": 2, "arm": 1})
    manager.activate("v0.2.0", new, actor="architect", reason="minor")
    for based_on in (0, made_on, None):  # the record, a later one, none (walks the history)
        placed = drift(manager, staging, based_on)
        assert placed is not None and placed.left_behind
        assert placed.active is not None and placed.active.data == new.data
        assert placed.base is not None and placed.base.data == {"w": 2}


def test_a_rollback_leaves_staging_behind_even_on_a_state_it_held(store: ObjectStore) -> None:
    manager = served(store)
    tuner_release(manager, "v0.1.1", {"w": 2})
    made_on = tuner_release(manager, "v0.1.2", {"w": 3})
    staging = manager.update_staging(lambda d: {**d, "w": 4}, actor="tuner")
    manager.rollback(actor="human", reason="v0.1.2 is worse", to="v0.1.1")
    placed = drift(manager, staging, made_on)
    assert placed is not None and placed.left_behind
    assert placed.active is not None and placed.active.data == {"w": 2}
    assert placed.base is not None and placed.base.data == {"w": 3}


def test_staging_equal_to_the_active_state_is_in_line(store: ObjectStore) -> None:
    manager = served(store)
    manager.activate("v0.2.0", StateDocument(data={"w": 5}), actor="architect", reason="m")
    manager.update_staging(lambda d: {"w": 5}, actor="tuner")
    placed = drift(manager, manager.read_staging(), based_on=0)
    assert placed is not None and not placed.left_behind


def test_nothing_served_places_nothing(store: ObjectStore) -> None:
    manager = StateManager(store)
    assert drift(manager, manager.read_staging(), based_on=None) is None
