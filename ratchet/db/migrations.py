"""Versioned schemas, brought up to date when a store opens.

Each store names its schema and lists its steps; ``ratchet_schema`` records the
version each store's tables are at. Opening runs the missing steps in one
transaction under a lock (an advisory lock on Postgres, the file's write lock on
SQLite), so processes starting together migrate once and a crash leaves the old
schema or the new. A schema newer than the code is refused: an older release must
not write tables whose meaning it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ratchet.errors import ConfigError

from .dialect import Dialect
from .engine import Database, Tx
from .url import VARIABLE

MIGRATIONS_LOCK = "ratchet:migrations"
_TABLE = (
    "CREATE TABLE IF NOT EXISTS ratchet_schema (store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class Schema:
    """A store's tables: ``steps[i]`` brings them from version i to i + 1 (a script of
    statements with the dialect's ``{id}``, ``{real}``, ``{bigint}`` type names).
    ``adopt`` tells the version of a SQLite file written before versions were recorded."""

    name: str
    steps: tuple[str, ...]
    adopt: Callable[[Tx], int] | None = None

    @property
    def version(self) -> int:
        return len(self.steps)


def migrate(database: Database, schema: Schema) -> int:
    """Bring ``schema`` up to date in ``database``; the version it was at."""
    try:
        with database.write() as tx:
            tx.lock(MIGRATIONS_LOCK)
            tx.execute(_TABLE)
            found = tx.scalar("SELECT version FROM ratchet_schema WHERE store = ?", (schema.name,))
            if found is None:
                adopt = schema.adopt if database.dialect is Dialect.SQLITE else None
                found = adopt(tx) if adopt is not None else 0
            current = int(found)
            if current > schema.version:
                raise ConfigError(_newer(database, schema, current))
            for step in schema.steps[current:]:
                for statement in database.dialect.ddl(step):
                    tx.execute(statement)
            tx.execute(
                "INSERT INTO ratchet_schema (store, version) VALUES (?, ?) "
                "ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                (schema.name, schema.version),
            )
            return current
    except Exception as exc:
        if not _no_create_right(database, exc):
            raise
        raise ConfigError(
            f"{VARIABLE}: the database user may not create Ratchet's tables in "
            f"{database.where} ({str(exc).strip().splitlines()[0]}); grant it CREATE on the "
            "schema (GRANT CREATE ON SCHEMA public TO <user>) or start Ratchet once as the owner"
        ) from None


def _no_create_right(database: Database, exc: Exception) -> bool:
    """Whether Postgres refused the tables for want of a right (psycopg is loaded only
    by homes that use Postgres)."""
    if database.dialect is not Dialect.POSTGRES:
        return False
    from psycopg.errors import InsufficientPrivilege

    return isinstance(exc, InsufficientPrivilege)


def _newer(database: Database, schema: Schema, found: int) -> str:
    where = (
        f"{VARIABLE}: the database {database.where}"
        if database.dialect is Dialect.POSTGRES
        else f"the database file {database.where}"
    )
    return (
        f"{where} holds {schema.name} tables at schema version {found}, newer than this "
        f"release's {schema.version}: run the release that wrote them (or a newer one)"
    )
