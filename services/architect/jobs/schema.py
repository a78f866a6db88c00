"""The jobs' tables, version by version, on SQLite or Postgres.

A job database written before versions were recorded in ``ratchet_schema``
counted its steps in SQLite's ``PRAGMA user_version`` (its first tables at 0):
:func:`_adopt` reads that, so an old home's file is brought up to date in place.
"""

from __future__ import annotations

from ratchet.db import Schema, Tx

from . import candidates

JOBS_FILE = "architect.sqlite3"
"""The jobs' SQLite file under the home's data folder (``RATCHET_DATABASE_URL`` unset)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    text TEXT NOT NULL,
    patch TEXT,
    idempotency_key TEXT UNIQUE,
    evidence TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    version TEXT,
    reason TEXT NOT NULL DEFAULT '',
    failed_stage TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
CREATE TABLE IF NOT EXISTS stages (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    seconds {real},
    log TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, name)
);
"""
_STEPS = (
    _TABLES,
    # 2: the coder of a job, and per-candidate records (cascade, best-of-N)
    "ALTER TABLE jobs ADD COLUMN coder TEXT;" + candidates.SCHEMA,
    # 3: a job's warnings (a human patch run without a sandbox), a JSON list
    "ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'",
    # 4: the lease of a running job: which Architect runs it, and its last heartbeat
    # (epoch seconds on the database's clock)
    "ALTER TABLE jobs ADD COLUMN worker TEXT; ALTER TABLE jobs ADD COLUMN heartbeat_at {real}",
)


def _adopt(tx: Tx) -> int:
    """A SQLite file from before ``ratchet_schema``: its first tables plus the steps its
    ``user_version`` counts; nothing if it has no jobs table."""
    found = tx.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    return 1 + int(tx.scalar("PRAGMA user_version")) if found else 0


JOBS_SCHEMA = Schema("jobs", _STEPS, adopt=_adopt)
