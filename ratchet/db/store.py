"""The base of every store kept in a :class:`~ratchet.db.Database`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

from . import open_database
from .engine import Database
from .migrations import Schema
from .sqlite import SqliteDatabase

if TYPE_CHECKING:
    from ratchet.config import CommonSettings


class Store:
    """A store of records in one database: its own SQLite file, or the shared Postgres.

    Built on a :class:`Database` from :func:`~ratchet.db.open_database` (its schema
    already brought up to date), or on a SQLite file path (tests and tools that read
    one home's file).
    """

    schema: ClassVar[Schema]
    file: ClassVar[str]  # the SQLite file's name under the home's data folder

    def __init__(self, where: Database | Path) -> None:
        self.db = where if isinstance(where, Database) else open_database(self.schema, where)

    @classmethod
    def open(cls, settings: CommonSettings) -> Self:
        """The store of a process with these settings (``RATCHET_DATABASE_URL`` decides)."""
        file = settings.data_path / cls.file
        return cls(open_database(cls.schema, file, settings.database))

    @classmethod
    def beside(cls, other: Store) -> Self:
        """This store where ``other`` keeps its records: the SQLite file next to
        other's, or the same Postgres database."""
        if isinstance(other.db, SqliteDatabase):
            return cls(other.db.path.parent / cls.file)
        from .postgres import PostgresDatabase

        assert isinstance(other.db, PostgresDatabase)
        return cls(open_database(cls.schema, Path(cls.file), other.db.url.url))

    def close(self) -> None:
        self.db.close()
