"""The proposal ledger: every candidate any job proposed, for which feedback, and its fate.

A later job reads it (``CodingRequest.tried``) so that an idea already
rejected on the same base version is not tried again blindly; on another
base version the code differs, so the idea may fare differently and is
tried again. It lives in the Architect's database next to the jobs (the
home's SQLite file, or the Postgres database Architects share): lookups are by
base version and fingerprint, pages are by a sequence number, and the records
belong to the jobs that made them. The object store holds write-once
artefacts; a ledger that is queried and paged is a table.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from ratchet.db import Row, Schema, Tx
from ratchet.db.store import Store
from ratchet.state.document import utcnow

from .jobs.schema import JOBS_FILE

_TABLES = """
CREATE TABLE IF NOT EXISTS proposals (
    seq {id},
    job_id TEXT NOT NULL,
    candidate INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    feedback TEXT NOT NULL,
    coder TEXT NOT NULL,
    tried TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    base_version TEXT NOT NULL,
    result TEXT NOT NULL,
    reason TEXT NOT NULL,
    scores TEXT NOT NULL,
    UNIQUE (job_id, candidate)
);
CREATE INDEX IF NOT EXISTS proposals_by_base ON proposals(base_version, fingerprint);
"""


def _adopt(tx: Tx) -> int:
    """A SQLite file from before versioned schemas holds version 1's table."""
    found = tx.scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'proposals'"
    )
    return 1 if found else 0


LEDGER_SCHEMA = Schema("proposals", (_TABLES,), adopt=_adopt)
_COLUMNS = (
    "seq, job_id, candidate, created_at, feedback, coder, tried, fingerprint, base_version,"
    " result, reason, scores"
)


class LedgerEntry(BaseModel):
    """One proposal: a candidate of a job, what it tried and how it fared."""

    seq: int = Field(default=0, description="Position in the ledger (the page cursor).")
    job_id: str
    candidate: int = Field(description="The candidate's number in its job (1-based).")
    created_at: str = ""
    feedback: str
    coder: str
    tried: str = Field(description="What was tried, in words (e.g. the template's title).")
    fingerprint: str = Field(description="What was tried, as a key: template:<id>, diff:<hash>.")
    base_version: str
    result: str = Field(description="kept, lost, rejected or failed.")
    reason: str = ""
    scores: dict[str, float | None] = Field(default_factory=dict)


class ProposalLedger(Store):
    schema = LEDGER_SCHEMA
    file = JOBS_FILE  # the jobs' SQLite file: the records belong to the jobs

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Write a proposal's outcome; a job run again replaces its own earlier entry."""
        with self.db.write() as tx:
            row = tx.one(
                "INSERT INTO proposals (job_id, candidate, created_at, feedback, coder, tried,"
                " fingerprint, base_version, result, reason, scores)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id, candidate) DO UPDATE SET created_at = excluded.created_at,"
                " feedback = excluded.feedback, coder = excluded.coder, tried = excluded.tried,"
                " fingerprint = excluded.fingerprint, base_version = excluded.base_version,"
                " result = excluded.result, reason = excluded.reason, scores = excluded.scores"
                f" RETURNING {_COLUMNS}",
                (
                    entry.job_id,
                    entry.candidate,
                    utcnow(),
                    entry.feedback,
                    entry.coder,
                    entry.tried,
                    entry.fingerprint,
                    entry.base_version,
                    entry.result,
                    entry.reason,
                    json.dumps(entry.scores),
                ),
            )
        assert row is not None
        return _entry(row)

    def entries(
        self,
        *,
        limit: int = 50,
        before: int | None = None,
        base_version: str | None = None,
        result: str | None = None,
    ) -> list[LedgerEntry]:
        """Newest first; ``before`` a ``seq`` pages on to older entries."""
        where: list[str] = []
        args: list[object] = []
        for clause, value in (
            ("seq < ?", before),
            ("base_version = ?", base_version),
            ("result = ?", result),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM proposals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.db.read() as tx:
            rows = tx.all(f"{sql} ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [_entry(row) for row in rows]


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        seq=row[0],
        job_id=row[1],
        candidate=row[2],
        created_at=row[3],
        feedback=row[4],
        coder=row[5],
        tried=row[6],
        fingerprint=row[7],
        base_version=row[8],
        result=row[9],
        reason=row[10],
        scores=json.loads(row[11]),
    )
