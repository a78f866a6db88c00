"""SLOs and multi-window burn-rate alert rules (Google SRE workbook, chapter 5).

Burn rate = (bad fraction in a window) / (1 - objective): 1 spends the error
budget exactly over the SLO period. The workbook pages when both a long and a
short window burn faster than a factor: 14.4x over 1h and 5m (2% of a 30-day
budget in one hour), 6x over 6h and 30m (5% in six hours).

Scaling to ``period_days``: the windows scale with the period (x period/30),
the factors stay. A window then still spends the same share of the budget at
the factor (factor x window / period is unchanged): for 28 days, 14.4x over
56m / 4m40s and 6x over 5h36m / 28m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ratchet.ci.budgets import Budgets
from ratchet.errors import CorruptDocumentError

WORKBOOK_PERIOD_DAYS = 30
# (name, long window s, short window s, factor) for the workbook's 30-day period
WORKBOOK_RULES = (("page-fast", 3600.0, 300.0, 14.4), ("page-slow", 21600.0, 1800.0, 6.0))
# burn rates are ratios of floats: 0.144 / (1 - 0.99) is 14.3999..., still "at the factor"
TOLERANCE = 1e-9


class SloSpec(BaseModel):
    """One SLO of ``ci/budgets.json``'s ``slos``: the share of good events it promises."""

    model_config = ConfigDict(extra="allow")

    objective: float = Field(gt=0, lt=1)
    min_samples: int = Field(default=1, ge=1)
    threshold: float | None = Field(default=None, gt=0, description="latency SLOs: ms")

    @property
    def budget(self) -> float:
        return 1.0 - self.objective


class SloConfig(BaseModel):
    period_days: float = Field(gt=0)
    slos: dict[str, SloSpec]


def parse_slos(budgets: Budgets) -> SloConfig:
    """The ``slos`` section of a budgets document; CorruptDocumentError if absent or bad."""
    raw: Any = (budgets.model_extra or {}).get("slos")
    if not isinstance(raw, dict):
        raise CorruptDocumentError("ci/budgets.json has no `slos` object")
    fields = dict(raw)
    period = fields.pop("period_days", WORKBOOK_PERIOD_DAYS)
    try:
        return SloConfig.model_validate({"period_days": period, "slos": fields})
    except ValidationError as exc:
        raise CorruptDocumentError(f"ci/budgets.json `slos`: {exc.errors()[0]['msg']}") from None


@dataclass(frozen=True)
class AlertRule:
    name: str
    long_s: float
    short_s: float
    factor: float


def alert_rules(period_days: float) -> tuple[AlertRule, ...]:
    """The workbook's two paging rules with their windows scaled to the period."""
    scale = period_days / WORKBOOK_PERIOD_DAYS
    return tuple(
        AlertRule(name, long_s * scale, short_s * scale, factor)
        for name, long_s, short_s, factor in WORKBOOK_RULES
    )


def burn_rate(good: int, bad: int, objective: float) -> float | None:
    """None without events."""
    total = good + bad
    return None if total == 0 else (bad / total) / (1.0 - objective)


def over(rate: float | None, factor: float) -> bool:
    return rate is not None and rate >= factor * (1 - TOLERANCE)
