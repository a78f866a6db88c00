"""A store's database: transactions in one dialect, on SQLite or Postgres.

A store holds a :class:`Database` and writes each operation once: ``with
db.write() as tx`` is one transaction (``BEGIN IMMEDIATE`` on SQLite, so writers
of several processes queue on the file; a pooled connection's transaction on
Postgres), ``with db.read() as tx`` reads. A ``write`` inside a ``write`` on the
same thread is a savepoint of the outer one, so a store method may call another.
"""

from __future__ import annotations

import abc
import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from .dialect import Dialect
from .rows import Row


class Cursor(Protocol):
    """What ``execute`` answers on both engines."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


class Tx:
    """The statements of one transaction (or one read), in the store's portable SQL."""

    def __init__(self, connection: Any, dialect: Dialect, executemany: Any) -> None:
        self._connection = connection
        self._executemany = executemany
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor: Cursor = self._connection.execute(self.dialect.statement(sql), tuple(params))
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._executemany(self.dialect.statement(sql), [tuple(r) for r in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def lock(self, name: str) -> None:
        """Hold the named lock until this transaction ends, across processes and
        machines sharing the database (a Postgres advisory lock). On SQLite the write
        transaction already holds the file's one write lock."""
        if self.dialect is Dialect.POSTGRES:
            self.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Database(abc.ABC):
    """One database a store's records live in; thread-safe."""

    dialect: Dialect
    where: str  # the file or the (redacted) URL, for messages

    def __init__(self) -> None:
        self._local = threading.local()

    @abc.abstractmethod
    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Statements outside a write transaction (each sees what is committed)."""

    @abc.abstractmethod
    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @property
    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @_depth.setter
    def _depth(self, value: int) -> None:
        self._local.depth = value
