"""What a demo run does, in numbers: traffic sizes, windows, limits, and the fleet's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.architect.triggerer.slo import alert_rules


class Progress(Protocol):
    """Where the scenario reports what it is doing (Rich bars in the CLI, a list in tests)."""

    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, steps: int = 1) -> None: ...

    def note(self, text: str) -> None: ...


class Silent:
    """A Progress that records the notes and shows nothing."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.notes.append(name)

    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass(frozen=True)
class DemoPlan:
    learn_rounds: int = 2  # replay, then `promote`: one patch release each
    turns_per_round: int = 800
    hard_intents: int = 10  # the degradation: new wording of the intents routed worst
    # All of it: the usual traffic (training wording, ~93% right) would dilute the burn
    # toward the 6x paging rate (at 80%, 6.0-6.3x: a page or none, run to run).
    degraded_share: float = 1.0  # of the degraded traffic; the rest is the usual traffic
    degraded_chunk: int = 150  # turns between looks for the Triggerer's wake-up
    # Give up waiting for a wake-up after this many of the slowest paging rule's long
    # window (4 x 60 s at the default period). A count of turns would not do: the windows
    # are time, and a fleet that serves faster sends a count in less than one window.
    degraded_max_windows: float = 4.0
    after_turns: int = 600  # degraded traffic again, served by the Architect's release
    # Still under the routing objective after that release: written feedback asks the
    # Architect for more (a second job), and the same traffic replays on its release.
    follow_up: bool = True
    # A release is a canary first (progressive delivery, the default): traffic with
    # feedback goes on, in chunks, until the rollout controller promotes or aborts it.
    rollout_chunk: int = 200
    rollout_max_turns: int = 8000  # a rollout still undecided after this fails the demo
    # At the end, a deliberately weak candidate through the `patch` coder: it games the
    # offline gates (fleet/demo/weak.py), and its rollout must abort it on live feedback.
    weak_candidate: bool = True
    clients: int = 4  # concurrent MCP clients routing
    feedback_delay_s: float = 0.5  # corrections arrive this late
    mine_rules: bool = True  # `mine_rules` before each `promote`
    # The SLO period, compressed: page-slow's windows are 720 x this in seconds
    # (1/12 day: 60 s and 5 s), page-fast's 120 x (10 s and 0.8 s).
    period_days: float = 1 / 12
    triggerer_interval_s: float = 1.0
    heldout_sample: int = 0  # 0: the full tier routes the whole held-out split
    measure_missing: bool = True  # measure releases without an eval summary (v0.1.0, patches)
    job_timeout_s: float = 1200.0
    # The Tuner's tune of the Architect's release (`tune_release`, asked by the Architect):
    # its dev evaluations, and how long the demo waits for its patch.
    tune_evaluations: int = 48
    tune_timeout_s: float = 900.0
    seed: int = 7

    def wake_deadline_s(self) -> float:
        """How long the degraded traffic may go on without a wake-up: the Triggerer pages
        once a rule's long window (at the compressed period) is full of it."""
        longest = max(rule.long_s for rule in alert_rules(self.period_days))
        return self.degraded_max_windows * longest

    def fleet_env(self) -> dict[str, str]:
        """What the demo's fleet sets; everything else is at its default.

        Free ports, so a demo runs beside a fleet on the default ports; the SLO
        period compressed from 28 days to ``period_days`` and the Triggerer looking
        every ``triggerer_interval_s``, so an incident pages within a minute
        instead of hours. The held-out subset only when asked for (0: the default,
        the whole split).
        """
        ports = {f"RATCHET_{s}_PORT": "0" for s in ("RUNNER", "TUNER", "ARCHITECT", "VERSIONS")}
        env = {
            **ports,
            "RATCHET_ARCHITECT_TRIGGERER_INTERVAL": str(self.triggerer_interval_s),
            "RATCHET_ARCHITECT_TRIGGERER_PERIOD_DAYS": repr(self.period_days),
            "RATCHET_ARCHITECT_TUNER_EVALUATIONS": str(self.tune_evaluations),
        }
        if self.heldout_sample:
            env["RATCHET_ARCHITECT_HELDOUT_SAMPLE"] = str(self.heldout_sample)
        return env
