"""``tune_params`` on a task with out-of-scope rows: dev counts an out-of-scope row right
when it was answered out of scope, so CMA-ES raises ``abstain_threshold`` above 0."""

from __future__ import annotations

from pathlib import Path

from ratchet.builds import BuildStore
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from services.tuner.scoring import DevScorer
from services.tuner.settings import TunerSettings
from services.tuner.tools.studies import StudyStore
from services.tuner.tools.tune import ParamTuner
from tests.helpers.oos_task import serving_tree


class ToyScorer(DevScorer):
    """Scores on the toy task with this project's agent code (the home's has none)."""

    def code_root(self) -> Path:
        return self.local_root


def test_tuning_raises_the_abstain_threshold_and_dev_accuracy(
    tuner_settings: TunerSettings, tmp_path: Path
) -> None:
    manager = open_state_manager(tuner_settings)
    assert manager.read_staging().data["params"]["abstain_threshold"]["value"] == 0.0
    root = serving_tree(tmp_path / "tree", with_code=True)
    scorer = ToyScorer(manager, BuildStore(tmp_path / "ws", tmp_path / "builds"), root)
    studies = StudyStore(open_object_store(tuner_settings), b"a key of at least sixteen bytes")
    result = ParamTuner(studies, manager, scorer).run(evaluations=24)
    assert result.applied, result
    assert result.dev_accuracy_after > result.dev_accuracy_before
    assert result.params["abstain_threshold"] > 0
    staged = manager.read_staging().data["params"]["abstain_threshold"]["value"]
    assert staged == result.params["abstain_threshold"]
