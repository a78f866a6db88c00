"""Where the stores' records live: SQLite files per home, or one shared Postgres.

``RATCHET_DATABASE_URL`` decides (:mod:`ratchet.db.url`); a store opens its
database with :func:`open_database`, which also brings its schema up to date.
Only :mod:`ratchet.db.postgres` and the Postgres paths import psycopg, and only
when a URL is set: the embedded default does not pay for loading it.
"""

from __future__ import annotations

from pathlib import Path

from .dialect import Dialect
from .engine import Database, Tx
from .migrations import Schema, migrate
from .rows import Row
from .sqlite import SqliteDatabase
from .url import VARIABLE, DatabaseUrl, parse_database_url

__all__ = [
    "VARIABLE",
    "Database",
    "DatabaseUrl",
    "Dialect",
    "Row",
    "Schema",
    "Tx",
    "open_database",
    "parse_database_url",
]


def open_database(schema: Schema, file: Path, url: str | None = None) -> Database:
    """The database ``schema``'s store keeps its records in, its tables up to date:
    the SQLite ``file`` when ``url`` (``RATCHET_DATABASE_URL``) is unset, else the
    shared Postgres database. Raises ConfigError, naming the variable, when the URL is
    wrong, the server unreachable, the user without rights or the schema newer."""
    parsed = parse_database_url(url)
    if parsed is None:
        database: Database = SqliteDatabase(file)
    else:
        # psycopg is imported only by homes that use it (about 0.15 s of every start).
        from .postgres import shared_postgres

        database = shared_postgres(parsed)
    try:
        migrate(database, schema)
    except BaseException:
        database.close()
        raise
    return database
