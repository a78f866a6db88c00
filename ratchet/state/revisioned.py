"""One JSON document with an integer ``revision``, written by compare-and-swap.

The mechanism under the staging state and the active pointer: a write names
the revision it was derived from; it lands only if the stored document is
still at that revision (checked by ETag, so two writers racing on the same
revision cannot both win), and becomes revision + 1. Every revision is also
kept write-once under a history prefix, so nothing is ever overwritten.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from ratchet.errors import ConflictError, CorruptDocumentError, NotFoundError, StaleRevisionError
from ratchet.objects.base import ObjectStore


def dumps(document: dict[str, Any], *, pretty: bool = False) -> bytes:
    """Canonical bytes: sorted keys, so equal documents have equal ETags.

    Compact unless ``pretty``: json's C encoder only serves ``indent=None``,
    and the pure-Python one makes every staging write ~10x slower. Files
    people diff in git (the released state) are written pretty.
    """
    if pretty:
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode()


def loads(key: str, raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptDocumentError(f"{key} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("revision"), int):
        raise CorruptDocumentError(f"{key} has no integer 'revision'")
    return document


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document as read, with the ETag a compare-and-swap must match."""

    document: dict[str, Any]
    etag: str

    @property
    def revision(self) -> int:
        return int(self.document["revision"])


class RevisionedDocument:
    def __init__(self, store: ObjectStore, key: str, history_prefix: str) -> None:
        self.store = store
        self.key = key
        self.history_prefix = history_prefix.rstrip("/") + "/"

    def history_key(self, revision: int) -> str:
        return f"{self.history_prefix}{revision:010d}.json"

    def read(self) -> Snapshot:
        stored = self.store.get(self.key)
        return Snapshot(loads(self.key, stored.data), stored.etag)

    def read_or_none(self) -> Snapshot | None:
        try:
            return self.read()
        except NotFoundError:
            return None

    def create(self, document: dict[str, Any]) -> Snapshot:
        """Write the first revision; ConflictError if the document already exists."""
        document = {**document, "revision": int(document.get("revision", 0))}
        raw = dumps(document)
        etag = self.store.put(self.key, raw, if_none_match=True)
        self.ensure_recorded(document)
        return Snapshot(document, etag)

    def write(
        self, document: dict[str, Any], expected_revision: int, *, base: Snapshot | None = None
    ) -> Snapshot:
        """Compare-and-swap: land ``document`` as ``expected_revision + 1`` or raise.

        ``base`` is the snapshot the caller derived ``document`` from; passing
        it saves a read (its ETag is what the swap must match).
        """
        current = base if base is not None else self.read_or_none()
        actual = None if current is None else current.revision
        if current is None or actual != expected_revision:
            raise StaleRevisionError(expected_revision, actual)
        # A fresh write id makes every write unique, so "the stored document
        # equals mine" below proves it was this write, not a twin from a writer
        # that derived the same content in the same millisecond.
        new = {**document, "revision": expected_revision + 1, "write_id": uuid.uuid4().hex}
        try:
            etag = self.store.put(self.key, dumps(new), if_match=current.etag)
        except ConflictError:
            latest = self.read_or_none()
            if latest is not None and latest.document == new:
                # Our write landed but its answer was lost and the retry was
                # refused: it is done, and re-applying it would apply it twice.
                etag = latest.etag
            else:
                raise StaleRevisionError(
                    expected_revision, None if latest is None else latest.revision
                ) from None
        # The winner records the revision it replaced as well as its own: if the
        # previous winner was killed between its swap and its record, the gap
        # is closed here. Losers pay only a read and a refused write.
        self.ensure_recorded(current.document)
        self.ensure_recorded(new)
        return Snapshot(new, etag)

    def ensure_recorded(self, document: dict[str, Any]) -> None:
        key = self.history_key(int(document["revision"]))
        # Already recorded is fine: history entries are write-once.
        with contextlib.suppress(ConflictError):
            self.store.put(key, dumps(document), if_none_match=True)

    def history(self, since: int = 0) -> list[int]:
        """Revisions kept in the history, ascending."""
        revisions = []
        for key in self.store.list(self.history_prefix):
            stem = key[len(self.history_prefix) :].removesuffix(".json")
            if stem.isdigit() and int(stem) >= since:
                revisions.append(int(stem))
        return sorted(revisions)

    def at(self, revision: int) -> dict[str, Any]:
        key = self.history_key(revision)
        return loads(key, self.store.get(key).data)
