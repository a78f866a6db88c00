"""The Tuner never reads a held-out split: its file accesses watched while it works.

A real Tuner process on a home made from this checkout takes feedback, mines
rules, tunes the state's params and promotes a patch (the micro tier); the
watch (:mod:`tests.helpers.file_access`) is on the home's vault and on every
``tasks/*/test.csv`` of the checkout, so an open by the Tuner, its agent
processes or their sandboxed children would be seen. The full tier's reader
opening the vault in the same run shows the watch can fail.
"""

from __future__ import annotations

import pytest
from mcp import Client

from ratchet import datasets
from ratchet.sessions import SessionStore
from ratchet.tasks.heldout import heldout_examples
from services.tuner.settings import TunerSettings
from tests.conftest import PROJECT_ROOT
from tests.helpers.file_access import Access, heldout_files, watching
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.services.tuner.conftest import answered, settled

# alone: another test of the run may read the checkout's test.csv (the watch sees it).
pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.alone]

MISROUTED = ("my card has not arrived yet", "the new card has not arrived", "card not arrived")


async def test_feedback_tuning_mining_and_promote_open_no_heldout_split(
    project_home: TunerSettings, store: SessionStore
) -> None:
    for index, text in enumerate(MISROUTED):  # answers the users corrected
        answered(store, f"c{index}", text=text, intent="card_linking", arm="blend")
    env = home_env(project_home.home_path, RATCHET_TUNER_PORT="0")
    with watching(heldout_files(project_home.home_path, PROJECT_ROOT)) as watch:
        with running("services.tuner", env) as tuner:
            async with Client(f"{tuner.url}/mcp") as client:
                for index in range(len(MISROUTED)):
                    await call(
                        client,
                        "feedback",
                        conversation_id=f"c{index}",
                        correct_intent="card_arrival",
                    )
                await settled(client)
                mined = await call(
                    client, "mine_rules", min_support=2, min_confidence=0.5, max_tries=2
                )
                tuned = await call(client, "tune_params", evaluations=2)
                promoted = await call(client, "promote")
        by_the_tuner = watch.drain()
        vault = project_home.heldout_path
        workspace_task = datasets.task(project_home.workspace_path)
        rows = heldout_examples(workspace_task, vault)  # what the full tier reads
        by_the_full_tiers_reader = watch.drain()

    assert mined["mistakes"] == len(MISROUTED) and mined["candidates"] > 0, mined
    assert tuned["evaluations"] == 2 and tuned["status"]["told"] == 2, tuned
    assert promoted["promoted"], promoted["reason"]
    assert by_the_tuner == [], "\n".join(map(str, by_the_tuner))
    assert rows and Access(vault / workspace_task.name / "test.csv", "open") in (
        by_the_full_tiers_reader
    )
