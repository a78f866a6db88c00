"""Fixtures shared by the core library's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.db.sqlite import SqliteDatabase


@pytest.fixture
def database(tmp_path: Path) -> SqliteDatabase:
    """An embedded database file with one table, ``t (k INTEGER PRIMARY KEY, v TEXT)``."""
    db = SqliteDatabase(tmp_path / "t.sqlite3")
    with db.write() as tx:
        tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return db
