"""The Triggerer's evaluator on synthetic metric streams (a synthetic clock, no sleeps)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.architect.triggerer import Evaluator, Sample, SloConfig, SloSpec, Wake, alert_rules

T0 = 1_700_000_000.0
MINUTE, HOUR = 60.0, 3600.0
CALLS = 1000  # per minute: every window holds far more than min_samples
HEALTHY = 0.001  # a tenth of the error budget


def config(period_days: float = 28, **extra: SloSpec) -> SloConfig:
    slos = {"error_rate": SloSpec(objective=0.99, min_samples=50), **extra}
    return SloConfig(period_days=period_days, slos=slos)


def run(
    evaluator: Evaluator,
    start: float,
    end: float,
    bad_fraction: Callable[[float], float | None],
    calls: int = CALLS,
) -> list[tuple[float, Wake]]:
    """One sample a minute from ``start`` (hours after T0) to ``end``; None: no sample."""
    wakes = []
    t = T0 + start * HOUR
    while t < T0 + end * HOUR:
        t += MINUTE
        fraction = bad_fraction(t)
        if fraction is not None:
            bad = round(calls * fraction)
            evaluator.observe("error_rate", Sample(t, calls - bad, bad))
        wakes += [(t, wake) for wake in evaluator.evaluate(t)]
    return wakes


def hours(t: float) -> float:
    return (t - T0) / HOUR


def test_the_windows_scale_with_the_period_and_the_factors_stay() -> None:
    fast, slow = alert_rules(30)
    assert (fast.long_s, fast.short_s, fast.factor) == (3600, 300, 14.4)
    assert (slow.long_s, slow.short_s, slow.factor) == (21600, 1800, 6)
    fast, slow = alert_rules(28)
    assert (fast.long_s, fast.short_s) == pytest.approx((56 * MINUTE, 280))
    assert (slow.long_s, slow.short_s) == pytest.approx((5.6 * HOUR, 28 * MINUTE))
    # the same share of the budget at the factor: 2% over the long window of page-fast
    assert fast.factor * fast.long_s / (28 * 86400) == pytest.approx(0.02)


def test_a_five_minute_error_spike_does_not_wake() -> None:
    evaluator = Evaluator(config(), started_at=T0, cooldown_s=HOUR)
    spike = (T0 + 3 * HOUR, T0 + 3 * HOUR + 5 * MINUTE)

    def errors(t: float) -> float:
        return 1.0 if spike[0] < t <= spike[1] else HEALTHY

    assert run(evaluator, 0, hours(spike[1]), errors) == []
    fast = evaluator.readings("error_rate", spike[1])[0]
    assert fast.short.burning and not fast.long.burning  # the long window keeps it quiet
    assert run(evaluator, hours(spike[1]), 10, errors) == []


@pytest.mark.parametrize("period_days", [30, 28])
def test_a_sustained_two_percent_budget_burn_in_an_hour_wakes_exactly_once(
    period_days: int,
) -> None:
    fast = alert_rules(period_days)[0]
    budget = 0.01
    # bad fraction that spends 2% of the period's budget over page-fast's long window
    # (the workbook's "hour", scaled): exactly the page-fast factor, 14.4x
    burning = 0.02 * budget * (period_days * 86400) / fast.long_s
    assert burning / budget == pytest.approx(14.4)
    evaluator = Evaluator(config(period_days), started_at=T0, cooldown_s=0)
    start = T0 + 2 * HOUR
    wakes = run(evaluator, 0, 12, lambda t: burning if t > start else HEALTHY)
    assert len(wakes) == 1
    at, wake = wakes[0]
    assert start + fast.long_s - MINUTE <= at <= start + fast.long_s + MINUTE
    assert (wake.slo, wake.kind, wake.incident) == (
        "error_rate",
        "burn_rate",
        wake.evidence["incident"],
    )
    breach = wake.evidence["breaching"][0]
    assert breach["alert"] == "page-fast" and breach["factor"] == 14.4
    assert breach["long"]["burn_rate"] >= 14.39 and breach["short"]["burn_rate"] >= 14.39
    assert breach["long"]["seconds"] == pytest.approx(fast.long_s)
    assert breach["long"]["bad"] > 0 and breach["long"]["good"] > 0
    assert wake.evidence["slo"]["objective"] == 0.99
    assert "14.4x" in wake.reason
    assert evaluator.incident("error_rate") == wake.incident  # still burning: same incident


def test_recovery_resets_and_a_later_incident_wakes_again_after_the_cooldown() -> None:
    cooldown = 12 * HOUR
    evaluator = Evaluator(config(), started_at=T0, cooldown_s=cooldown)
    bursts = [(T0 + 2 * HOUR, T0 + 4 * HOUR), (T0 + 10 * HOUR, T0 + 18 * HOUR)]

    def errors(t: float) -> float:
        return 0.2 if any(a < t <= b for a, b in bursts) else HEALTHY

    first = run(evaluator, 0, 9, errors)
    assert len(first) == 1
    assert evaluator.incident("error_rate") is None  # recovered: the incident closed
    second = run(evaluator, 9, 24, errors)
    assert len(second) == 1
    (t1, wake1), (t2, wake2) = first[0], second[0]
    assert wake2.incident != wake1.incident
    # the second incident opened within the cooldown and woke as it ended
    assert int(wake2.incident.rsplit(".", 1)[1]) < t1 + cooldown
    assert t2 == pytest.approx(t1 + cooldown, abs=MINUTE)


def test_missing_metrics_raise_the_no_data_alert() -> None:
    evaluator = Evaluator(config(), started_at=T0, cooldown_s=0)
    silence = T0 + 2 * HOUR  # the Runner stops answering its metrics
    wakes = run(evaluator, 0, 6, lambda t: HEALTHY if t <= silence else None)
    assert len(wakes) == 1
    at, wake = wakes[0]
    assert wake.kind == "no_data" and "no data" in wake.reason
    assert at == pytest.approx(silence + evaluator.no_data_s, abs=MINUTE)
    # metrics come back: the incident closes, healthy again
    assert run(evaluator, 6, 7, lambda t: HEALTHY) == []
    assert evaluator.incident("error_rate") is None


def test_no_data_is_per_slo_waits_for_a_full_window_and_an_idle_service_is_data() -> None:
    accuracy = SloSpec(objective=0.8, min_samples=50)
    evaluator = Evaluator(config(routing_accuracy=accuracy), started_at=T0, cooldown_s=0)
    # error_rate answers with zero calls (idle, yet measured); routing_accuracy never answers
    wakes = run(evaluator, 0, 3, lambda t: 0.0, calls=0)
    assert [(w.slo, w.kind) for _, w in wakes] == [("routing_accuracy", "no_data")]
    assert wakes[0][0] == pytest.approx(T0 + evaluator.no_data_s, abs=MINUTE)


def test_a_window_under_min_samples_does_not_burn() -> None:
    evaluator = Evaluator(config(), started_at=T0, cooldown_s=0)
    # every call fails, but one call a minute leaves both short windows under 50 samples
    assert run(evaluator, 0, 8, lambda t: 1.0, calls=1) == []
    for alert in evaluator.readings("error_rate", T0 + 8 * HOUR):
        assert alert.long.burning and not alert.short.burning
        assert alert.short.burn_rate == pytest.approx(100)
