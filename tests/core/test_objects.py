"""Object store contract, run against both backends (S3 on a real local server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.errors import ConflictError, NotFoundError
from ratchet.objects import FilesystemObjectStore, ObjectStore, etag_of, validate_key
from ratchet.objects.filesystem import LOCK_STRIPES


def test_put_get_roundtrip_with_etag(store: ObjectStore) -> None:
    etag = store.put("evals/abc/summary.json", b'{"a": 1}')
    got = store.get("evals/abc/summary.json")
    assert got.data == b'{"a": 1}'
    assert got.etag == etag == etag_of(b'{"a": 1}')
    assert store.etag("evals/abc/summary.json") == etag


def test_missing_key_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError):
        store.get("nope/never")
    assert store.etag("nope/never") is None
    assert store.get_or_none("nope/never") is None


def test_if_match_refuses_a_stale_etag(store: ObjectStore) -> None:
    first = store.put("doc", b"1")
    second = store.put("doc", b"2", if_match=first)
    with pytest.raises(ConflictError):
        store.put("doc", b"3", if_match=first)
    assert store.get("doc").data == b"2"
    store.put("doc", b"3", if_match=second)
    assert store.get("doc").data == b"3"


def test_if_none_match_creates_only_once(store: ObjectStore) -> None:
    store.put("once", b"a", if_none_match=True)
    with pytest.raises(ConflictError):
        store.put("once", b"b", if_none_match=True)
    assert store.get("once").data == b"a"


def test_put_once_accepts_identical_and_refuses_different(store: ObjectStore) -> None:
    key = "evals/c0ffee/summary.json"
    store.put_once(key, b"same")
    store.put_once(key, b"same")  # a retried writer is not an error
    with pytest.raises(ConflictError, match="write-once"):
        store.put_once(key, b"different")
    assert store.get(key).data == b"same"


def test_list_is_sorted_and_prefix_filtered(store: ObjectStore) -> None:
    for key in ("b/2", "a/1", "b/1", "c"):
        store.put(key, b"x")
    assert store.list("b/") == ["b/1", "b/2"]
    assert store.list() == ["a/1", "b/1", "b/2", "c"]


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("gone", b"x")
    store.delete("gone")
    store.delete("gone")
    assert not store.exists("gone")


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "..", "a//b", ".hidden", "a/.locks/x", "sp ace"]
)
def test_keys_that_could_escape_or_collide_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        validate_key(key)


def test_the_filesystem_store_keeps_a_bounded_number_of_lock_files(tmp_path: Path) -> None:
    """Every key ever written or deleted (telemetry writes one every few seconds for
    ever) shares one of a fixed set of lock files, and conditional writes still
    compare against their own key only."""
    store = FilesystemObjectStore(tmp_path / "objects")
    for index in range(2 * LOCK_STRIPES):
        key = f"telemetry/traces/runner/2026-12-05/{index:06d}.jsonl"
        store.put(key, b"{}\n")
        store.delete(key)
    assert 0 < len(list((store.root / ".locks").iterdir())) <= LOCK_STRIPES
    first = store.put("a", b"1")
    store.put("b", b"2")  # whatever stripe it shares, it is another key
    assert store.put("a", b"3", if_match=first) == etag_of(b"3")
    with pytest.raises(ConflictError):
        store.put("a", b"4", if_match=first)
