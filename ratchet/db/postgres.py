"""The shared engine: every store of every process in one Postgres database.

A process keeps one small connection pool per URL, shared by its stores and
closed with the last of them. Connections are in autocommit mode; a ``write`` is
an explicit transaction on a connection the thread holds for its length (a
nested ``write`` is a savepoint of it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ratchet.errors import ConfigError

from .dialect import Dialect
from .engine import Database, Tx
from .rows import Row, names_of
from .url import VARIABLE, DatabaseUrl

POOL_SIZE = 8  # connections per process: the Runner's concurrent calls share them
CONNECT_TIMEOUT_S = 10


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = names_of(cursor.description)
    return lambda values: Row(values, names)


def check_reachable(url: DatabaseUrl) -> None:
    """Connect once, so a wrong host, password or database name fails at start with
    the server's reason rather than as a pool's timeout at the first call."""
    try:
        psycopg.connect(url.url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{VARIABLE}: cannot connect to {url.redacted} ({reason}); start the database, "
            "fix the URL, or unset it to keep the SQLite files in the home folder"
        ) from None


class PostgresDatabase(Database):
    dialect = Dialect.POSTGRES

    def __init__(self, url: DatabaseUrl, pool_size: int = POOL_SIZE) -> None:
        super().__init__()
        self.url = url
        self.where = url.redacted
        self.pool = ConnectionPool(
            url.url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": _row_factory},
            open=False,
            name="ratchet",
        )
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        self._refs = 0

    def _executemany(self, connection: psycopg.Connection[Any]) -> Callable[..., None]:
        def run(sql: str, rows: list[tuple[Any, ...]]) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(sql, rows)

        return run

    @contextmanager
    def read(self) -> Iterator[Tx]:
        held = getattr(self._local, "connection", None)
        if held is not None:  # a read inside this thread's write sees the write's rows
            yield Tx(held, self.dialect, self._executemany(held))
            return
        with self.pool.connection() as connection:
            yield Tx(connection, self.dialect, self._executemany(connection))

    @contextmanager
    def write(self) -> Iterator[Tx]:
        held = getattr(self._local, "connection", None)
        if held is not None:
            with held.transaction():  # a savepoint of the outer write
                yield Tx(held, self.dialect, self._executemany(held))
            return
        with self.pool.connection() as connection:
            self._local.connection = connection
            try:
                with connection.transaction():
                    yield Tx(connection, self.dialect, self._executemany(connection))
            finally:
                self._local.connection = None

    def close(self) -> None:
        _release(self)


_pools: dict[str, PostgresDatabase] = {}
_pools_lock = threading.Lock()


def shared_postgres(url: DatabaseUrl) -> PostgresDatabase:
    """The process's pool for ``url``, opened on first use; each caller closes it once."""
    with _pools_lock:
        database = _pools.get(url.url)
        if database is None:
            check_reachable(url)
            database = PostgresDatabase(url)
            _pools[url.url] = database
        database._refs += 1
        return database


def _release(database: PostgresDatabase) -> None:
    with _pools_lock:
        database._refs -= 1
        if database._refs > 0:
            return
        if _pools.get(database.url.url) is database:
            del _pools[database.url.url]
    database.pool.close()
