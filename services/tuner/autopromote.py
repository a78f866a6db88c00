"""Automatic promotion: release staging once enough new feedback has been applied.

Runs beside the feedback calls, never inside one: a feedback call only
notices that the threshold is crossed and starts a promotion in a background
thread if none is running. Its outcome is kept for ``status``.
"""

from __future__ import annotations

import logging
import threading

from ratchet.state import StateDocument

from .intake import APPLIED
from .promotion import Promoter, PromoteResult

log = logging.getLogger(__name__)


class AutoPromoter:
    def __init__(self, promoter: Promoter, every: int) -> None:
        self.promoter = promoter
        self.every = every
        self.last: PromoteResult | None = None
        self._released_applied: int | None = None  # feedback count in the active state
        self._running = threading.Lock()

    def notice(self, staging: StateDocument) -> None:
        """Start a promotion if ``every`` feedbacks arrived since the active release."""
        if self.every <= 0:
            return
        applied = int((staging.tuning or {}).get(APPLIED, 0))
        if self._released_applied is None:
            active = self.promoter.manager.read_active()
            tuning = active.document.tuning if active else None
            self._released_applied = int((tuning or {}).get(APPLIED, 0))
        if applied - self._released_applied < self.every:
            return
        if self._running.acquire(blocking=False):
            threading.Thread(target=self._promote, name="auto-promote", daemon=True).start()

    def _promote(self) -> None:
        try:
            result = self.promoter.promote()
            self.last = result
            # Refused or not, wait for `every` more before trying again.
            self._released_applied = result.feedback_applied
            log.info("auto-promotion: %s", result.reason)
        except Exception:
            log.exception("auto-promotion failed; staging is kept for the next try")
        finally:
            self._running.release()
