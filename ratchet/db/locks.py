"""Locks that hold across machines: a Postgres session advisory lock for a block.

Which lock guards a release (the version store's one writer at a time):

- always the file lock under the home's ``locks/`` folder (``release.lock``): it
  serialises the processes of one machine that share a workspace;
- and, when ``RATCHET_DATABASE_URL`` is set, :func:`cluster_lock` on the shared
  Postgres database as well: homes on several machines that share the database
  (and the object store) release one at a time, so two of them never compute the
  same next version.

The advisory lock is session-level, on a connection of its own held for the
block's length (a pooled connection would go back to the pool mid-release, and a
transaction-level lock would need the release's own statements in that
transaction, which the release's git work is not). Should that connection break
mid-release the server drops the lock: the version store's conflict checks
(an existing tag is never overwritten) are the second line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ratchet.errors import ConflictError

from .engine import lock_key
from .url import parse_database_url

RELEASE_LOCK = "ratchet:release"


@contextmanager
def cluster_lock(url: str, name: str, timeout_s: float) -> Iterator[None]:
    """Hold the advisory lock ``name`` on the Postgres database at ``url`` for the
    block, waiting at most ``timeout_s`` for another holder (ConflictError after)."""
    import psycopg

    from .postgres import CONNECT_TIMEOUT_S

    parsed = parse_database_url(url)
    assert parsed is not None, "cluster_lock needs a Postgres URL"
    key = lock_key(name)
    with psycopg.connect(parsed.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as db:
        db.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(timeout_s * 1000)}ms",))
        try:
            db.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable:
            raise ConflictError(
                f"the lock {name!r} on {parsed.redacted} was held elsewhere for more than "
                f"{timeout_s:g} s"
            ) from None
        try:
            yield
        finally:
            if not db.closed and not db.broken:
                db.execute("SELECT pg_advisory_unlock(%s)", (key,))
