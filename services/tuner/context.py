"""What the Tuner's tools share: stores, intake, scorer, promotion (built once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.objects import ObjectStore
from ratchet.sessions import SessionStore
from ratchet.state import StateManager

from .applier import Applier
from .autopromote import AutoPromoter
from .intake import Intake
from .promotion import Promoter
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
    promoter: Promoter
    applier: Applier  # folds stored feedback into staging in the background
    auto: AutoPromoter
