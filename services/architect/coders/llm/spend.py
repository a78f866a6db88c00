"""What the LLM coder has spent, per job and per UTC day, and the caps on it.

One row per answer in a SQLite file beside the jobs DB (or in the Postgres
database Architects share), written before the answer is used: a restart (or
another Architect process) sees the day's spend and the job's, so neither cap
resets by crashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ratchet.db import Schema, Tx
from ratchet.db.store import Store

from .client import Usage

SPEND_FILE = "llm_spend.sqlite3"  # beside the jobs DB in the data folder
_TABLES = """
CREATE TABLE IF NOT EXISTS llm_spend (
    id {id},
    job_id TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_spend_job ON llm_spend (job_id);
CREATE INDEX IF NOT EXISTS llm_spend_day ON llm_spend (day);
"""


def _adopt(tx: Tx) -> int:
    """A SQLite file from before versioned schemas holds version 1's table."""
    found = tx.scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'llm_spend'"
    )
    return 1 if found else 0


SPEND_SCHEMA = Schema("llm_spend", (_TABLES,), adopt=_adopt)


def utc_day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Caps:
    job_usd: float
    daily_usd: float


class CapReached(Exception):
    """A cost cap is reached; the message names the cap and the numbers."""


class SpendLedger(Store):
    schema = SPEND_SCHEMA
    file = SPEND_FILE

    def record(self, job_id: str, model: str, usage: Usage, cost: float) -> None:
        now = datetime.now(UTC)
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO llm_spend (job_id, day, at, model, prompt_tokens, "
                "completion_tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    utc_day(now),
                    now.isoformat(),
                    model,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    cost,
                ),
            )

    def job_spend(self, job_id: str) -> float:
        with self.db.read() as tx:
            spent = tx.scalar(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM llm_spend WHERE job_id = ?", (job_id,)
            )
        return float(spent)

    def day_spend(self, day: str | None = None) -> float:
        with self.db.read() as tx:
            spent = tx.scalar(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM llm_spend WHERE day = ?",
                (day or utc_day(),),
            )
        return float(spent)

    def check(self, job_id: str, caps: Caps) -> None:
        """CapReached if the job or the day has spent its cap: no further question."""
        job = self.job_spend(job_id)
        if job >= caps.job_usd:
            raise CapReached(
                f"per-job cost cap reached: this job spent ${job:.4f} of its "
                f"${caps.job_usd:.4f} cap (RATCHET_ARCHITECT_LLM_JOB_CAP_USD)"
            )
        day = self.day_spend()
        if day >= caps.daily_usd:
            raise CapReached(
                f"daily cost cap reached: ${day:.4f} spent today ({utc_day()} UTC) of the "
                f"${caps.daily_usd:.4f} cap (RATCHET_ARCHITECT_LLM_DAILY_CAP_USD)"
            )
