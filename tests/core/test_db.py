"""The database layer: one store's statements on SQLite and on Postgres, schemas
migrated once under a lock, and bad configuration refused with the variable named."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ratchet.db import Database, Dialect, Schema, open_database, parse_database_url
from ratchet.db.dialect import _postgres
from ratchet.db.sqlite import SqliteDatabase
from ratchet.errors import ConfigError

COUNTERS = Schema(
    "counters",
    (
        "CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL, at {real} NOT NULL)",
        "CREATE TABLE events (id {id}, name TEXT NOT NULL, note TEXT)",
    ),
)


def opened(tmp_path: Path, url: str | None, schema: Schema = COUNTERS) -> Database:
    return open_database(schema, tmp_path / "counters.sqlite3", url)


def test_placeholders_and_percent_signs_become_psycopgs() -> None:
    sql = "SELECT '50% off?', x FROM t WHERE a = ? AND b LIKE 'a%' AND c = ?"
    assert _postgres(sql) == "SELECT '50%% off?', x FROM t WHERE a = %s AND b LIKE 'a%%' AND c = %s"
    assert Dialect.SQLITE.statement(sql) == sql


def test_a_write_commits_and_a_failing_write_leaves_nothing(
    tmp_path: Path, database_url: str | None
) -> None:
    db = opened(tmp_path, database_url)
    with db.write() as tx:
        tx.execute("INSERT INTO counters (name, n, at) VALUES (?, ?, ?)", ("a", 1, 1.7e9 + 0.25))
    with pytest.raises(RuntimeError), db.write() as tx:
        tx.execute("INSERT INTO counters (name, n, at) VALUES (?, ?, ?)", ("b", 1, 0.0))
        raise RuntimeError("the caller fails mid-transaction")
    with db.read() as tx:
        rows = tx.all("SELECT name, n, at FROM counters ORDER BY name")
    # an epoch second keeps its fraction (Postgres's REAL would round it to minutes)
    assert [(r["name"], r[1], r["at"]) for r in rows] == [("a", 1, 1.7e9 + 0.25)]
    assert dict(rows[0]) == {"name": "a", "n": 1, "at": 1.7e9 + 0.25}
    db.close()


def test_a_nested_write_is_a_savepoint_of_the_outer_one(
    tmp_path: Path, database_url: str | None
) -> None:
    db = opened(tmp_path, database_url)
    with db.write() as outer:
        outer.execute("INSERT INTO events (name) VALUES (?)", ("kept",))
        with pytest.raises(ValueError), db.write() as inner:
            inner.execute("INSERT INTO events (name) VALUES (?)", ("undone",))
            raise ValueError
        with db.read() as seen:  # a read inside the write sees the write's own rows
            assert seen.scalar("SELECT COUNT(*) FROM events") == 1
        last = outer.scalar("INSERT INTO events (name) VALUES (?) RETURNING id", ("also",))
    with db.read() as tx:
        assert [r[0] for r in tx.all("SELECT name FROM events ORDER BY id")] == ["kept", "also"]
        assert last == tx.scalar("SELECT MAX(id) FROM events")
    db.close()


def test_concurrent_increments_from_threads_lose_none(
    tmp_path: Path, database_url: str | None
) -> None:
    db = opened(tmp_path, database_url)
    with db.write() as tx:
        tx.execute("INSERT INTO counters (name, n, at) VALUES ('c', 0, 0)")

    def bump() -> None:
        for _ in range(25):
            with db.write() as tx:
                tx.execute("UPDATE counters SET n = n + 1 WHERE name = 'c'")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.read() as tx:
        assert tx.scalar("SELECT n FROM counters WHERE name = 'c'") == 100
    db.close()


def test_migrations_run_once_and_step_an_older_schema_forward(
    tmp_path: Path, database_url: str | None
) -> None:
    first = Schema("counters", COUNTERS.steps[:1])
    db = opened(tmp_path, database_url, first)
    with db.write() as tx:
        tx.execute("INSERT INTO counters (name, n, at) VALUES ('kept', 7, 0)")
    db.close()
    again = opened(tmp_path, database_url)  # the code moved on by one step
    reopened = opened(tmp_path, database_url)  # nothing left to do: no error, no copy
    with again.read() as tx:
        assert tx.scalar("SELECT n FROM counters") == 7
        assert tx.scalar("SELECT COUNT(*) FROM events") == 0
        assert tx.scalar("SELECT version FROM ratchet_schema WHERE store = 'counters'") == 2
    again.close()
    reopened.close()


def test_processes_opening_together_migrate_once(tmp_path: Path, database_url: str | None) -> None:
    errors: list[BaseException] = []
    databases: list[Database] = []

    def open_one() -> None:
        try:
            databases.append(opened(tmp_path, database_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for db in databases:
        db.close()


def test_connections_opening_one_new_file_together_all_get_wal(tmp_path: Path) -> None:
    """Turning a new file to WAL answers "database is locked" at once, without waiting,
    to a connection doing the same meanwhile: each retries. 40 new files, 4 openers each
    (about one file in 20 failed before)."""
    opened_ok: list[SqliteDatabase] = []
    errors: list[BaseException] = []

    def open_one(path: Path) -> None:
        try:
            opened_ok.append(SqliteDatabase(path))
        except BaseException as exc:
            errors.append(exc)

    for n in range(40):
        path = tmp_path / f"{n}.sqlite3"
        threads = [threading.Thread(target=open_one, args=(path,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for db in opened_ok:
            db.close()
        opened_ok.clear()
        assert errors == [], f"file {n}: {errors}"


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path, database_url: str | None) -> None:
    opened(tmp_path, database_url).close()
    older = Schema("counters", COUNTERS.steps[:1])
    with pytest.raises(ConfigError, match="schema version 2, newer than this release's 1") as info:
        opened(tmp_path, database_url, older)
    if database_url is not None:
        assert str(info.value).startswith("RATCHET_DATABASE_URL: ")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://u:p@db/x", "the scheme 'mysql' is not supported"),
        ("sqlite:///tmp/x.db", "the scheme 'sqlite' is not supported"),
        ("localhost:5432", "the scheme 'localhost' is not supported"),
        ("postgresql:///nohost", "no host in the URL"),
    ],
)
def test_a_wrong_url_names_the_variable_and_the_fix(url: str, said: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_database_url(url)
    message = str(info.value)
    assert message.startswith("RATCHET_DATABASE_URL: ") and said in message
    assert "postgresql://USER:PASSWORD@HOST:5432/DATABASE" in message
    assert "\n" not in message


def test_an_unreachable_server_is_refused_at_open_with_the_password_hidden(
    tmp_path: Path,
) -> None:
    url = "postgresql://ratchet:s3cret@127.0.0.1:9/nothing"  # port 9: nobody listens
    with pytest.raises(ConfigError) as info:
        opened(tmp_path, url)
    message = str(info.value)
    assert message.startswith("RATCHET_DATABASE_URL: cannot connect to ")
    assert "ratchet:***@127.0.0.1:9/nothing" in message and "s3cret" not in message


def test_a_user_without_create_rights_is_told_what_to_grant(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE ROLE reader LOGIN")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    reader = postgres_url.replace("ratchet@", "reader@", 1)
    with pytest.raises(ConfigError, match="GRANT CREATE ON SCHEMA public") as info:
        opened(tmp_path, reader)
    assert str(info.value).startswith("RATCHET_DATABASE_URL: the database user may not create")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DROP OWNED BY reader")
        admin.execute("DROP ROLE reader")
