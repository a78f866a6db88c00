"""The demo plan's numbers that follow from the Triggerer's rules, not from turn counts."""

from __future__ import annotations

from fleet.demo import DemoPlan
from services.architect.triggerer.slo import alert_rules


def test_the_wait_for_a_wake_up_is_time_that_fills_the_slowest_paging_window() -> None:
    plan = DemoPlan()
    windows = {rule.name: rule.long_s for rule in alert_rules(plan.period_days)}
    assert windows["page-slow"] == max(windows.values())
    assert round(windows["page-slow"]) == 60  # as the plan's comment says
    assert plan.wake_deadline_s() == plan.degraded_max_windows * windows["page-slow"]
    # A shorter period shortens the windows, so the wait too: however fast the traffic.
    assert DemoPlan(period_days=plan.period_days / 2).wake_deadline_s() * 2 == (
        plan.wake_deadline_s()
    )
