"""A canary whose release changed the Runner's agent code answers with that code, loaded
from its commit-scoped build under its own alias, beside the stable code; the alias is
dropped when the rollout ends. In-process: the runtime is told, as the release follower
tells it, which commits run its own code."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ratchet.bootstrap import release_store
from ratchet.builds import BuildStore
from ratchet.objects import open_object_store
from ratchet.state import open_state_manager
from ratchet.state.pointer import Canary
from ratchet.vcs import Release, ReleaseKind, ReleaseMetadata
from services.runner.runtime import RunnerRuntime
from services.runner.settings import RunnerSettings
from services.runner.tools.route import RouteTool
from tests.services.runner.cases import messages

# Slow: not in the fast tier's run of a candidate's tests. The canary's build loads a
# second copy of the agent's models beside the stable one's, and with the mpnet_embed
# template in the tree that is a second 110M-parameter encoder: over the fast tier's
# memory (found by the demo's second Architect job).
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROUTER = "services/runner/agent/router.py"
PACKAGE = ("services/runner",)


@pytest.fixture
def hosted(runner_settings: RunnerSettings) -> Iterator[RunnerRuntime]:
    """A runtime that admits only commits with the stable release's Runner code."""
    manager = open_state_manager(runner_settings)
    pointer = manager.pointer()
    assert pointer is not None and pointer.commit is not None
    builds = BuildStore(runner_settings.workspace_path, runner_settings.home_path / "builds")
    key = builds.code_key(pointer.commit, PACKAGE)
    runtime = RunnerRuntime(
        runner_settings,
        manager,
        open_object_store(runner_settings),
        admits=lambda commit: commit is not None and builds.code_key(commit, PACKAGE) == key,
    )
    yield runtime
    runtime.stop()


def release_code(settings: RunnerSettings) -> Release:
    """The Architect's minor release of new agent code (four alternatives, not three),
    tagged but not activated: a rollout serves it as the canary."""
    path = settings.workspace_path / ROUTER
    path.write_text(path.read_text().replace("TOP_K = 3", "TOP_K = 4"))
    metadata = ReleaseMetadata(kind=ReleaseKind.MINOR, author="human", reason="four")
    return release_store(settings).release(metadata, message="four", paths=[ROUTER])


def start_canary(runtime: RunnerRuntime, release: Release, weight: float) -> None:
    manager = runtime.manager
    active = manager.read_active()
    assert active is not None
    canary = Canary(
        rollout="r1",
        version=release.version,
        commit=release.commit,
        snapshot=active.pointer.snapshot,
        state_hash=active.pointer.state_hash,
        state_revision=active.revision,
        weight=weight,
    )
    manager.set_canary(lambda current: canary, actor="rollout", reason="step")


async def test_a_code_changing_canary_answers_with_its_own_code(hosted: RunnerRuntime) -> None:
    tool, text = RouteTool(hosted), messages(1)[0]
    old = await tool.route(text, conversation_id="old-1")
    release = release_code(hosted.settings)
    start_canary(hosted, release, 1.0)
    alias = f"ratchet_canary_{release.commit[:12]}"
    assert alias in sys.modules and f"ratchet_build_{release.commit[:12]}" not in sys.modules
    new = await tool.route(text, conversation_id="new-1")
    again = await tool.route(text, conversation_id="old-1")
    assert (new.version, len(new.alternatives)) == (release.version, 4)  # the canary's code
    assert (old.version, len(old.alternatives)) == ("v0.1.0", 3)
    assert (again.version, len(again.alternatives)) == ("v0.1.0", 3)  # still stable's code

    hosted.manager.set_canary(lambda current: None, actor="rollout", reason="aborted")
    assert alias not in sys.modules  # the rollout ended: its code is unloaded
    after = await tool.route(text, conversation_id="new-1")
    assert (after.version, len(after.alternatives)) == ("v0.1.0", 3)


async def test_a_promoted_code_canary_serves_everyone_until_the_host_loads_its_code(
    hosted: RunnerRuntime,
) -> None:
    tool, text = RouteTool(hosted), messages(1)[0]
    await tool.route(text, conversation_id="old-1")
    release = release_code(hosted.settings)
    start_canary(hosted, release, 0.0)
    manager = hosted.manager
    pointer = manager.pointer()
    assert pointer is not None and pointer.canary is not None
    manager.activate(
        release.version,
        manager.canary_state(pointer.canary),
        actor="rollout",
        reason="promoted",
        commit=release.commit,
    )
    # This code may not serve the new commit, but the canary's code, already loaded, does.
    answers = [await tool.route(text, conversation_id=cid) for cid in ("old-1", "new-1")]
    assert {(a.version, len(a.alternatives)) for a in answers} == {(release.version, 4)}
    assert f"ratchet_canary_{release.commit[:12]}" in sys.modules  # in use until stop
