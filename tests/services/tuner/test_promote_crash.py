"""SIGKILL during ``promote``, repeated: never a tag without its state, never a pointer to
a missing tag, and the next Tuner releases again."""

from __future__ import annotations

import json
import time

import anyio
import pytest
from mcp import Client

from ratchet.bootstrap import release_store
from ratchet.sessions import SessionStore
from ratchet.state import StateDocument, open_state_manager
from ratchet.vcs import Version
from services.tuner.settings import TunerSettings
from tests.conftest import git
from tests.helpers.mcp import call
from tests.helpers.processes import home_env, running
from tests.services.tuner.conftest import answered

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Shares of one promotion's duration at which to kill: the micro tier takes most
# of it, so the kill points crowd the end, where the commit, tag and pointer move are.
KILL_AT = (0.2, 0.5, 0.8, 0.86, 0.9, 0.94, 0.97, 0.99)


def assert_consistent(settings: TunerSettings) -> list[str]:
    """Every tag carries the state it names; the pointer names a tag at its commit."""
    workspace = settings.workspace_path
    releases = release_store(settings).releases()
    for release in releases:
        if release.metadata.state_hash is None:
            continue
        raw = git(workspace, "show", f"{release.commit}:state/active.state.json")
        committed = StateDocument.parse(release.version, json.loads(raw))
        assert committed.content_hash() == release.metadata.state_hash, release.version
    pointer = open_state_manager(settings).pointer()
    assert pointer is not None
    tagged = {r.version: r.commit for r in releases}
    assert pointer.version in tagged, f"pointer names {pointer.version}, not a tag"
    assert pointer.commit == tagged[pointer.version]
    return sorted(tagged)


async def promote_and_kill(settings: TunerSettings, store: SessionStore, after: float) -> float:
    """Start a Tuner, give it fresh feedback, SIGKILL it ``after`` seconds into ``promote``;
    return how long ``promote`` ran."""
    env = home_env(settings.home_path, RATCHET_TUNER_PORT="0")
    with running("services.tuner", env) as tuner:
        async with Client(f"{tuner.url}/mcp") as client:
            conversation = f"c{time.monotonic_ns()}"
            answered(store, conversation, arm="blend")
            await call(client, "feedback", conversation_id=conversation, reward=1.0)
            started = time.monotonic()
            with anyio.move_on_after(after):
                await client.call_tool("promote", {})
            ran = time.monotonic() - started
        tuner.process.kill()
        tuner.process.wait()
    return ran


async def test_sigkill_during_promote_never_half_releases(
    project_home: TunerSettings, store: SessionStore
) -> None:
    # One promotion left to finish tells how long the whole critical section takes.
    duration = await promote_and_kill(project_home, store, after=120)
    assert assert_consistent(project_home) == ["v0.1.0", "v0.1.1"]

    for share in KILL_AT:
        await promote_and_kill(project_home, store, after=duration * share)
        assert_consistent(project_home)

    # Whatever the kills left, a new Tuner repairs it and releases the next patch.
    before = assert_consistent(project_home)
    await promote_and_kill(project_home, store, after=120)
    after = assert_consistent(project_home)
    assert len(after) == len(before) + 1
    pointer = open_state_manager(project_home).pointer()
    assert pointer is not None and pointer.version == str(max(map(Version.parse, after)))
