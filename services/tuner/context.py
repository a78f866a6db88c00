"""What the Tuner's tools share: stores, intake, scorer, studies, promotion (built once per
process)."""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.objects import ObjectStore
from ratchet.sessions import SessionStore
from ratchet.state import StateManager

from .applier import Applier
from .autopromote import AutoPromoter
from .intake import Intake
from .promotion import Promoter
from .release_tuning import ReleaseTuner
from .scoring import DevScorer
from .settings import TunerSettings
from .tools.studies import StudyStore
from .tools.tune import ParamTuner


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
    studies: StudyStore  # one per process: its lock orders this process's writers
    param_tuner: ParamTuner
    release_tuner: ReleaseTuner  # tunes a release's params after it is served
