"""``initialize`` with a task: a bad task is refused before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.bootstrap import initialize
from ratchet.config import CommonSettings
from ratchet.errors import NotFoundError
from ratchet.tasks import TaskError
from tests.helpers.tasks import BROKEN, write_task


@pytest.mark.parametrize("defect", ["missing train.csv", "unknown kind", "leakage"])
def test_a_bad_task_creates_no_home(tmp_path: Path, settings: CommonSettings, defect: str) -> None:
    folder = write_task(tmp_path / "tiny")
    BROKEN[defect][0](folder)
    with pytest.raises(TaskError) as raised:
        initialize(settings.model_copy(update={"task": str(folder)}))
    assert raised.value.source == str(folder)
    assert not settings.home_path.exists()


def test_an_unknown_task_name_creates_no_home(settings: CommonSettings) -> None:
    with pytest.raises(NotFoundError, match="no task 'nope'"):
        initialize(settings.model_copy(update={"task": "nope"}))
    assert not settings.home_path.exists()
