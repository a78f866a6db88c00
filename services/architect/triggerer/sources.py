"""What feeds the evaluator: the Runner's ``/metrics`` and the corrections in the sessions DB.

Each source turns what happened since its last poll into one :class:`Sample`
per SLO; a source that cannot be read gives none (the evaluator's "no data"),
while a source read with nothing to count gives an empty sample.

- ``error_rate``, ``latency_p95_ms``: ``GET {runner}/metrics?window=<seconds since
  the last poll>``. Rejected calls (the caller's bad input) count for neither.
  The Runner counts the calls over the threshold (``slow_ms``); from a Runner
  that gives only percentiles the bad count is a lower bound: over 1% of calls
  when p99 is over the threshold, 5% when p95 is, 50% when p50 is.
- ``routing_accuracy``: feedback carrying a ``correct_intent``, read past a
  watermark from the sessions DB the Runner and Tuner share on this home: good
  when it confirms the answer, bad when it corrects it. The Tuner's summary
  events carry the same KPI but only per promotion, which can span hours, too
  coarse to place in a 5-minute window.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import httpx

from ratchet.sessions import SessionStore

from .evaluator import Sample

log = logging.getLogger(__name__)

ERROR_RATE = "error_rate"
LATENCY = "latency_p95_ms"
ROUTING_ACCURACY = "routing_accuracy"
MAX_WINDOW_S = 30 * 86400  # the Runner's limit


def latency_over(stats: dict[str, Any], threshold_ms: float, served: int) -> int:
    """A lower bound on the calls slower than ``threshold_ms``, from the window's percentiles."""
    for key, share_over in (("p50_ms", 0.50), ("p95_ms", 0.05), ("p99_ms", 0.01)):
        value = stats.get(key)
        if value is not None and value > threshold_ms:
            return min(served, max(1, round(served * share_over)))
    return 0


class RunnerMetrics:
    """Polls the Runner's windowed metrics; one sample per SLO per successful poll."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        first_window_s: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self.first_window_s = first_window_s
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(timeout=5.0)
        self._headers = headers
        self._last: float | None = None
        self._failing = False

    def close(self) -> None:
        self._client.close()

    def poll(self, now: float, latency_threshold_ms: float | None) -> dict[str, Sample]:
        window = self.first_window_s if self._last is None else now - self._last
        window = min(max(window, 1.0), MAX_WINDOW_S)
        try:
            params = {"window": f"{window:.3f}"}
            if latency_threshold_ms is not None:
                params["slow_ms"] = f"{latency_threshold_ms:g}"
            answer = self._client.get(self.url, params=params, headers=self._headers)
            answer.raise_for_status()
            stats = answer.json()
            calls, errors, rejected = (int(stats[k]) for k in ("calls", "errors", "rejected"))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            if not self._failing:
                log.warning("triggerer: cannot read %s: %s", self.url, exc)
            self._failing = True
            return {}  # the window stays open: the next poll covers it
        self._failing = False
        self._last = now
        served = max(0, calls - rejected)
        samples = {ERROR_RATE: Sample(now, served - errors, errors)}
        if latency_threshold_ms is not None:
            counted = stats.get("slow")  # exact; older Runners give only percentiles
            if isinstance(counted, int):
                slow = min(counted, served)
            else:
                slow = latency_over(stats, latency_threshold_ms, served)
            samples[LATENCY] = Sample(now, served - slow, slow)
        return samples


class Corrections:
    """Confirmations and corrections recorded since the last poll; the latest mistakes."""

    def __init__(self, sessions: SessionStore, *, keep: int = 20) -> None:
        self.sessions = sessions
        self._watermark = sessions.feedback_total()[1]  # history before start is not replayed
        self.mistakes: deque[dict[str, Any]] = deque(maxlen=keep)

    def poll(self, now: float) -> dict[str, Sample]:
        try:
            rows = self.sessions.feedback_after(self._watermark)
        except Exception as exc:  # a locked or damaged DB is missing data, not a crash
            log.warning("triggerer: cannot read corrections: %s", exc)
            return {}
        good = bad = 0
        for row in rows:
            self._watermark = max(self._watermark, int(row["id"]))
            if row["correct_intent"] is None:
                continue
            if row["correct_intent"] == row["intent"]:
                good += 1
            else:
                bad += 1
                self.mistakes.append(
                    {
                        "conversation_id": row["conversation_id"],
                        "turn": row["turn"],
                        "answered": row["intent"],
                        "correct": row["correct_intent"],
                        "version": row["version"],
                    }
                )
        return {ROUTING_ACCURACY: Sample(now, good, bad)}

    def failing_conversations(self) -> list[dict[str, Any]]:
        """The most recent corrected mistakes, newest first."""
        return list(reversed(self.mistakes))
