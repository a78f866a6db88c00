"""The release lock across machines: homes sharing one Postgres database release one
at a time (an advisory lock beside each home's file lock)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ratchet.errors import ConflictError
from ratchet.vcs import ReleaseStore


def machine(tmp_path: Path, name: str, url: str | None, timeout: float) -> ReleaseStore:
    """A home's version store on a machine of its own (its own lock file)."""
    home = tmp_path / name
    return ReleaseStore(
        home / "workspace", home / "locks" / "release.lock", lock_timeout=timeout, database_url=url
    )


def test_a_release_on_one_machine_holds_off_another_sharing_the_database(
    tmp_path: Path, postgres_url: str
) -> None:
    one = machine(tmp_path, "one", postgres_url, timeout=0.3)
    other = machine(tmp_path, "other", postgres_url, timeout=0.3)
    with one.lock():
        with one.lock():  # re-entrant, as a read-then-release holds it around both
            pass
        with pytest.raises(ConflictError, match="ratchet:release"), other.lock():
            pass
    with other.lock():  # free again once the first release ended
        pass


def test_a_waiting_release_goes_once_the_other_machine_is_done(
    tmp_path: Path, postgres_url: str
) -> None:
    one = machine(tmp_path, "one", postgres_url, timeout=30)
    other = machine(tmp_path, "other", postgres_url, timeout=30)
    order: list[str] = []
    waiting = threading.Thread(target=_release, args=(other, order))
    with one.lock():
        waiting.start()
        waiting.join(0.3)  # the other machine is still waiting: it cannot have gone yet
        order.append("one")
    waiting.join(30)
    assert order == ["one", "other"]


def _release(store: ReleaseStore, order: list[str]) -> None:
    with store.lock():
        order.append("other")


def test_without_a_shared_database_each_home_has_only_its_file_lock(tmp_path: Path) -> None:
    one = machine(tmp_path, "one", None, timeout=0.3)
    other = machine(tmp_path, "other", None, timeout=0.3)
    with one.lock(), other.lock():  # two homes on two machines: nothing in common
        pass
