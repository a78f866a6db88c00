"""Summary events between services: write-once JSON objects under ``events/{source}/``.

The Tuner publishes one per promotion (its KPIs): a record, in time order, of
what each patch release learned from, for whoever reads the store (``ratchet
demo`` counts them). The Triggerer does not read them: a promotion can span
hours, too coarse for its windows, so it counts corrections in the sessions
DB instead (``services/architect/triggerer/sources.py``). Keys start with a UTC
timestamp, so listing is reading in time order, and each event is written
once, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from ratchet.objects import ObjectStore

PREFIX = "events"


def publish(store: ObjectStore, source: str, kind: str, payload: dict[str, Any]) -> str:
    """Write one event; return its key."""
    now = datetime.now(UTC)
    key = f"{PREFIX}/{source}/{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.json"
    body = {"source": source, "kind": kind, "at": now.isoformat(), **payload}
    store.put_once(key, json.dumps(body, sort_keys=True).encode())
    return key


def read(
    store: ObjectStore, source: str, after: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Events of ``source`` in time order, only those whose key sorts after ``after``."""
    keys = sorted(k for k in store.list(f"{PREFIX}/{source}/") if after is None or k > after)
    return [(key, json.loads(store.get(key).data)) for key in keys]
