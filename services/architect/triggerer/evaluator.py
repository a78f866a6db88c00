"""The evaluator: a pure state machine from timestamped samples to wake-ups.

Fed with :class:`Sample` (good and bad event counts per SLI at a time) and
asked at a time ``now`` what to do; it never reads a clock, so tests drive it
with synthetic streams. Per SLO:

- a window *burns* when it holds at least ``min_samples`` events and its burn
  rate is at or over the rule's factor; a rule *fires* when its long and its
  short window both burn;
- *no data*: not one sample (not even an empty one) for the SLO over the
  fast rule's long window, once the evaluator has watched that long; an
  alert of its own kind, never read as healthy;
- an *incident* opens when an alert fires and closes when every window of
  every rule is back under its factor and data flows (recovery resets);
- each incident wakes the Architect at most once, its id being the job's
  idempotency key, and no wake-up comes within ``cooldown_s`` of the last;
  an incident opened during the cooldown wakes when it ends, if still open.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .slo import AlertRule, SloConfig, SloSpec, alert_rules, burn_rate, over

BURN_RATE = "burn_rate"
NO_DATA = "no_data"


@dataclass(frozen=True)
class Sample:
    at: float  # unix seconds: when the counted events ended
    good: int
    bad: int


@dataclass(frozen=True)
class WindowReading:
    seconds: float
    good: int
    bad: int
    burn_rate: float | None
    burning: bool

    def evidence(self) -> dict[str, Any]:
        total = self.good + self.bad
        return {
            "seconds": self.seconds,
            "good": self.good,
            "bad": self.bad,
            "bad_fraction": None if total == 0 else round(self.bad / total, 6),
            "burn_rate": None if self.burn_rate is None else round(self.burn_rate, 3),
            "burning": self.burning,
        }


@dataclass(frozen=True)
class AlertReading:
    rule: AlertRule
    long: WindowReading
    short: WindowReading

    @property
    def firing(self) -> bool:
        return self.long.burning and self.short.burning

    @property
    def quiet(self) -> bool:
        return not (self.long.burning or self.short.burning)

    def evidence(self) -> dict[str, Any]:
        return {
            "alert": self.rule.name,
            "factor": self.rule.factor,
            "firing": self.firing,
            "long": self.long.evidence(),
            "short": self.short.evidence(),
        }


@dataclass(frozen=True)
class Wake:
    """One wake-up of the Architect: the incident and the evidence it carries."""

    incident: str
    slo: str
    kind: str
    reason: str
    evidence: dict[str, Any]


@dataclass
class _Incident:
    id: str
    kind: str
    opened_at: float
    woken_at: float | None = None


@dataclass
class _Series:
    samples: deque[Sample] = field(default_factory=deque)

    def counts(self, now: float, seconds: float) -> tuple[int, int, int]:
        """(good, bad, samples) of the samples in (now - seconds, now]."""
        good = bad = n = 0
        for s in self.samples:
            if now - seconds < s.at <= now:
                good, bad, n = good + s.good, bad + s.bad, n + 1
        return good, bad, n

    def prune(self, before: float) -> None:
        while self.samples and self.samples[0].at <= before:
            self.samples.popleft()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


class Evaluator:
    def __init__(self, config: SloConfig, *, started_at: float, cooldown_s: float) -> None:
        self.started_at = started_at
        self.cooldown_s = cooldown_s
        self.last_wake: float | None = None
        self._series: dict[str, _Series] = {}
        self._incidents: dict[str, _Incident] = {}
        self.configure(config)

    def configure(self, config: SloConfig) -> None:
        """New SLOs (a release tightened them): samples and open incidents are kept."""
        self.config = config
        self.rules = alert_rules(config.period_days)
        self.no_data_s = self.rules[0].long_s
        self._horizon = max(rule.long_s for rule in self.rules)

    def observe(self, slo: str, sample: Sample) -> None:
        self._series.setdefault(slo, _Series()).samples.append(sample)

    def incident(self, slo: str) -> str | None:
        """The id of the SLO's open incident, if any."""
        open_ = self._incidents.get(slo)
        return None if open_ is None else open_.id

    def readings(self, slo: str, now: float) -> list[AlertReading]:
        spec = self.config.slos[slo]
        series = self._series.get(slo, _Series())
        return [
            AlertReading(
                rule,
                self._window(series, spec, now, rule.long_s, rule.factor),
                self._window(series, spec, now, rule.short_s, rule.factor),
            )
            for rule in self.rules
        ]

    def evaluate(self, now: float) -> list[Wake]:
        """Advance every SLO's incident to ``now``; the wake-ups due, at most one each."""
        wakes = []
        for name, spec in self.config.slos.items():
            series = self._series.setdefault(name, _Series())
            series.prune(now - self._horizon)
            readings = self.readings(name, now)
            no_data = (
                now - self.started_at >= self.no_data_s
                and series.counts(now, self.no_data_s)[2] == 0
            )
            kind = NO_DATA if no_data else BURN_RATE if any(r.firing for r in readings) else None
            incident = self._incidents.get(name)
            if incident is None and kind is not None:
                incident = _Incident(f"slo.{name}.{kind}.{int(now)}", kind, now)
                self._incidents[name] = incident
            elif incident is not None and not no_data and all(r.quiet for r in readings):
                del self._incidents[name]  # recovered: the next alert is a new incident
                continue
            if incident is None or incident.woken_at is not None or not self._cooled(now):
                continue
            incident.woken_at = self.last_wake = now
            wakes.append(self._wake(name, spec, incident, readings, now))
        return wakes

    def _cooled(self, now: float) -> bool:
        return self.last_wake is None or now - self.last_wake >= self.cooldown_s

    @staticmethod
    def _window(
        series: _Series, spec: SloSpec, now: float, seconds: float, factor: float
    ) -> WindowReading:
        good, bad, _ = series.counts(now, seconds)
        rate = burn_rate(good, bad, spec.objective)
        enough = good + bad >= spec.min_samples
        return WindowReading(seconds, good, bad, rate, enough and over(rate, factor))

    def _wake(
        self,
        name: str,
        spec: SloSpec,
        incident: _Incident,
        readings: list[AlertReading],
        now: float,
    ) -> Wake:
        breaching = [r for r in readings if r.firing]
        if incident.kind == NO_DATA and not breaching:
            reason = f"no data for SLO {name} in the last {self.no_data_s / 60:g} minutes"
        else:
            worst = (breaching or readings)[0]
            reason = (
                f"SLO {name} burns its error budget: {worst.long.burn_rate or 0:.1f}x over "
                f"{worst.rule.long_s / 60:g} min and {worst.short.burn_rate or 0:.1f}x over "
                f"{worst.rule.short_s / 60:g} min (page at {worst.rule.factor:g}x)"
            )
        evidence = {
            "incident": incident.id,
            "kind": incident.kind,
            "opened_at": _iso(incident.opened_at),
            "woken_at": _iso(now),
            "slo": {"name": name, "period_days": self.config.period_days, **spec.model_dump()},
            "breaching": [r.evidence() for r in breaching],
            "windows": [r.evidence() for r in readings],
        }
        return Wake(incident.id, name, incident.kind, reason, evidence)
