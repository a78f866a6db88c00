"""The LLM spend ledger on SQLite and on Postgres: per job and per day, seen by every
Architect that shares it, and the caps read from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.db import open_database
from services.architect.coders.llm.client import Usage
from services.architect.coders.llm.spend import CapReached, Caps, SpendLedger, utc_day


def test_spend_is_summed_per_job_and_day_and_seen_by_another_architect(
    tmp_path: Path, database_url: str | None
) -> None:
    ledger = SpendLedger(
        open_database(SpendLedger.schema, tmp_path / SpendLedger.file, database_url)
    )
    ledger.record("job-a", "m", Usage(1000, 100), 0.02)
    ledger.record("job-a", "m", Usage(500, 50), 0.01)
    ledger.record("job-b", "m", Usage(10, 1), 0.005)
    other = SpendLedger.beside(ledger)  # a restarted (or a second) Architect
    assert other.job_spend("job-a") == pytest.approx(0.03)
    assert other.day_spend() == pytest.approx(0.035)
    assert other.day_spend("1999-01-01") == 0.0
    other.check("job-b", Caps(job_usd=0.01, daily_usd=1.0))
    with pytest.raises(CapReached, match=r"per-job cost cap reached: this job spent \$0.0300"):
        other.check("job-a", Caps(job_usd=0.03, daily_usd=1.0))
    with pytest.raises(CapReached, match=f"daily cost cap reached: .* \\({utc_day()} UTC\\)"):
        other.check("job-b", Caps(job_usd=1.0, daily_usd=0.03))
    other.close()
    ledger.close()
