"""The throwaway PostgreSQL server the tests start themselves (tests/helpers/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import postgres
from tests.helpers.postgres import PostgresServer, default_base, running_postgres


def test_each_test_gets_a_fresh_database_of_its_own(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE turns (id int PRIMARY KEY, text text)")
        conn.execute("INSERT INTO turns VALUES (1, 'héllo')")
        assert conn.execute("SELECT text FROM turns").fetchone() == ("héllo",)
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
    other = postgres_server.create_database("t_other")
    try:
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT to_regclass('turns')").fetchone() == (None,)
    finally:
        postgres_server.drop_database("t_other")


def test_dropping_a_database_ends_the_connections_left_open(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("t_left_open")
    left_open = psycopg.connect(url)
    postgres_server.drop_database("t_left_open")
    with psycopg.connect(postgres_server.url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = 't_left_open'")
        assert found.fetchone() is None
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")
    left_open.close()


def test_a_second_server_gets_a_port_of_its_own_even_when_its_first_pick_is_taken(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its first pick is the running server's port: the bind fails, it picks again.
    picks: Iterator[int] = iter([postgres_server.port])
    real_free_port = postgres.free_port
    monkeypatch.setattr(postgres, "free_port", lambda: next(picks, None) or real_free_port())
    with running_postgres(default_base()) as second:
        assert second.port != postgres_server.port
        first_try = (second.root / f"postgres-{postgres_server.port}.log").read_text()
        assert "Address already in use" in first_try
        with psycopg.connect(second.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        root: Path = second.root
    assert not root.exists()  # the cluster goes with the server
    with psycopg.connect(postgres_server.url) as conn:  # the first one still serves
        assert conn.execute("SELECT 1").fetchone() == (1,)
