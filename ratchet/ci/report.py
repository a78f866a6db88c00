"""What one CI tier reports: pass or fail, why, how long, and what it measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TierReport:
    tier: str
    passed: bool
    seconds: float
    metrics: dict[str, float | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # why it failed (empty when it passed)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the served tool schemas

    @property
    def reason(self) -> str:
        if self.passed:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in self.metrics.items() if v is not None)
            return f"{self.tier} passed in {self.seconds:.1f} s" + (f": {shown}" if shown else "")
        listed = "; ".join(self.reasons[:5])
        more = f" (+{len(self.reasons) - 5} more)" if len(self.reasons) > 5 else ""
        return f"{self.tier} failed: {listed}{more}"

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            **self.metrics,
            "reasons": self.reasons,
            **self.details,
        }

    @classmethod
    def failed(cls, tier: str, seconds: float, *reasons: str) -> TierReport:
        return cls(tier, False, seconds, reasons=list(reasons))
