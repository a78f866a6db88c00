"""After a minor or major release the Architect asks the Tuner to tune its params over MCP;
a Tuner out of reach (or refusing the token) is a warning on the job, never a failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ratchet.bootstrap import initialize
from ratchet.state import StateDocument, open_state_manager
from ratchet.vcs import Release, ReleaseMetadata
from services.architect.context import ArchitectContext
from services.architect.jobs import JobKind
from services.architect.settings import ArchitectSettings
from services.architect.tuning import ask_tuner
from tests.helpers.processes import home_env, running

TOKEN = "a-fleet-token-of-some-length"


@contextmanager
def architect(home: Path, project: Path, **overrides: Any) -> Iterator[ArchitectContext]:
    settings = ArchitectSettings(home=home, project_root=project, port=0, **overrides)
    initialize(settings)
    ctx = ArchitectContext.from_settings(settings)
    try:
        yield ctx
    finally:
        ctx.close()


def release(kind: str) -> Release:
    metadata = ReleaseMetadata.model_validate({"kind": kind, "author": "architect"})
    return Release("v0.2.0", "0" * 40, metadata, "")


def served_state(ctx: ArchitectContext) -> StateDocument:
    active = open_state_manager(ctx.settings).read_active()
    assert active is not None and active.document.data["params"]
    return active.document


def test_an_unreachable_tuner_is_a_warning_on_the_job(tmp_path: Path, source_repo: Path) -> None:
    url = "http://127.0.0.1:9/mcp"  # the discard port: nothing listens
    with architect(tmp_path / "home", source_repo, tuner_url=url) as ctx:
        job, _ = ctx.jobs.create(JobKind.FEEDBACK, "add the ensemble")
        line = ask_tuner(ctx, job.id, release("minor"), served_state(ctx))
        assert line.startswith(f"warning: the Tuner at {url} could not be asked to tune v0.2.0")
        assert ctx.jobs.get(job.id).warnings == [line.removeprefix("warning: ")]


def test_a_patch_or_a_state_without_params_asks_nothing(tmp_path: Path, source_repo: Path) -> None:
    with architect(tmp_path / "home", source_repo, tuner_url="http://127.0.0.1:9/mcp") as ctx:
        job, _ = ctx.jobs.create(JobKind.FEEDBACK, "a fix")
        state = served_state(ctx)
        assert ask_tuner(ctx, job.id, release("patch"), state).startswith("no tuning asked")
        bare = state.model_copy(update={"data": {**state.data, "params": {}}})
        assert "declares no params" in ask_tuner(ctx, job.id, release("major"), bare)
        assert ctx.jobs.get(job.id).warnings == []


def test_a_minor_release_asks_the_tuner_with_the_fleet_token(
    tmp_path: Path, source_repo: Path
) -> None:
    home = tmp_path / "home"
    with architect(home, source_repo, tuner_url="", token=TOKEN) as ctx:
        env = home_env(home, RATCHET_TUNER_PORT="0", RATCHET_TOKEN=TOKEN)
        with running("services.tuner", env) as tuner:
            url = f"{tuner.url}/mcp"
            job, _ = ctx.jobs.create(JobKind.FEEDBACK, "add the ensemble")
            asked = ctx.settings.model_copy(update={"tuner_url": url})
            line = ask_tuner(_with(ctx, asked), job.id, release("minor"), served_state(ctx))
            assert line.startswith("asked the Tuner to tune v0.2.0's params (48 evaluations): ")
            tokenless = asked.model_copy(update={"token": None})
            refused = ask_tuner(_with(ctx, tokenless), job.id, release("minor"), served_state(ctx))
            assert refused.startswith("warning: ")
        assert ctx.jobs.get(job.id).warnings == [refused.removeprefix("warning: ")]


def _with(ctx: ArchitectContext, settings: ArchitectSettings) -> ArchitectContext:
    return dataclasses.replace(ctx, settings=settings)
