"""What the Tuner's tools share: settings, stores, intake, scorer (built once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.objects import ObjectStore
from ratchet.sessions import SessionStore
from ratchet.state import StateManager

from .intake import Intake
from .scoring import DevScorer
from .settings import TunerSettings


@dataclass(frozen=True)
class TunerContext:
    settings: TunerSettings
    manager: StateManager
    sessions: SessionStore
    objects: ObjectStore
    intake: Intake
    scorer: DevScorer
    labels: frozenset[str]
