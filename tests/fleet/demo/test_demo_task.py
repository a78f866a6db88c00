"""``ratchet demo --task``: the demo's home serves the task, and its traffic is the task's.

No fleet is started: the home is made and the degradation chosen as the demo
does (the active release's agent routes the task's dev split), in seconds.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fleet.cli.main import app
from fleet.demo import DemoPlan, Scenario, Silent, mixed
from ratchet.config import CommonSettings
from ratchet.tasks import load_task


def test_the_demo_serves_hwu64_and_degrades_with_new_wording_of_its_intents(
    tmp_path: Path, project_checkout: Path
) -> None:
    settings = CommonSettings(home=tmp_path / "home", project_root=project_checkout, task="hwu64")
    plan = DemoPlan()
    scenario = Scenario(settings, plan, Silent())
    hwu64 = load_task(project_checkout / "tasks" / "hwu64")
    train_texts = {e.text for e in hwu64.examples("train")}
    dev = set(hwu64.examples("dev"))

    task, train = scenario.prepare()
    assert task.name == "hwu64" and task.labels == hwu64.labels
    assert sorted(train, key=lambda e: e.text) == sorted(
        hwu64.examples("train"), key=lambda e: e.text
    )

    hard, shifted = scenario.degradation()
    assert len(hard) == plan.hard_intents and set(hard) <= set(hwu64.labels)
    # new wording: the task's dev messages of exactly those intents, none replayed while learning
    assert set(shifted) == {e for e in dev if e.intent in hard}
    assert not {e.text for e in shifted} & train_texts
    degraded = mixed(shifted, train, 300, plan.degraded_share, plan.seed)
    assert {e.intent for e in degraded} <= set(hard)
    # `ratchet up` is told the same task (a caller's RATCHET_TASK cannot contradict it)
    assert scenario._task_env() == {"RATCHET_TASK": str(hwu64.folder.resolve())}


def test_the_demo_refuses_an_unknown_task_before_making_a_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["demo", "--home", str(home), "--task", "no-such-task"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "no task 'no-such-task'" in said and "hwu64" in said
    assert not home.exists()
