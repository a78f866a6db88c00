"""The Triggerer: SLO burn-rate alerting that wakes the Architect once per incident.

``slo`` holds the model (SLOs from ``ci/budgets.json``, alert rules scaled to
the period, burn rates), ``evaluator`` the pure clock-injected state machine,
``sources`` what feeds it samples, ``loop`` the in-process background thread.
"""

from __future__ import annotations

from .evaluator import Evaluator, Sample, Wake
from .loop import Triggerer
from .slo import AlertRule, SloConfig, SloSpec, alert_rules, parse_slos

__all__ = [
    "AlertRule",
    "Evaluator",
    "Sample",
    "SloConfig",
    "SloSpec",
    "Triggerer",
    "Wake",
    "alert_rules",
    "parse_slos",
]
