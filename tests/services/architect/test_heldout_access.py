"""Only the full tier reads a held-out split: the file accesses of jobs of every coder,
watched while the real pipeline runs them (in-process, each tier in its own processes).

The watch (:mod:`tests.helpers.file_access`) is on the home's vault and on every
``tasks/*/test.csv`` of this checkout, which the home was made from; an open by
the Architect, a coder (its CLI, its model's answers applied), a tier's agent
processes or their sandboxed children would be seen. Each full tier (the
base's and the candidate's) is bracketed: what is opened inside it is the
full tier's; anything opened outside is the failure. A job that reaches the
full tier shows its open of the vault: the watch sees what it should.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ratchet.ci.full import run_full
from ratchet.ci.report import TierReport
from services.architect.context import ArchitectContext
from services.architect.jobs import Job, JobKind, StageStatus
from services.architect.worker import Worker
from tests.conftest import PROJECT_ROOT
from tests.helpers.file_access import Access, FileWatch, heldout_files, watching
from tests.helpers.openai_replay import replaying, write_script
from tests.services.architect.conftest import architect_settings, good_patch
from tests.services.architect.test_llm_coder import STATE, blend_edit, with_llm

# alone: another test of the run may read the checkout's test.csv (the watch sees it).
pytestmark = [pytest.mark.slow, pytest.mark.alone, pytest.mark.timeout(900)]

# A coding CLI in miniature: it reads its prompt and leaves a note in the agent's code.
CLI = """import sys
prompt = sys.stdin.read()
with open("services/runner/agent/router.py", "a") as f:
    f.write("# noted: " + prompt.split("Feedback:\\n", 1)[1].split("\\n", 1)[0] + "\\n")
"""


class FullTierWatch:
    """The watch's accesses inside the full tiers and outside them, as a job runs."""

    def __init__(self, watch: FileWatch, real: Callable[..., TierReport]) -> None:
        self.watch, self.real = watch, real
        self.inside: list[Access] = []
        self.outside: list[Access] = []
        self.full_tiers = 0

    def run_full(self, *args: Any, **kwargs: Any) -> TierReport:
        self.outside += self.watch.drain()
        self.full_tiers += 1
        try:
            return self.real(*args, **kwargs)
        finally:
            self.inside += self.watch.drain()

    def settle(self) -> None:
        self.outside += self.watch.drain()

    def vault_read_inside(self, vault: Path) -> bool:
        return any(access.path.is_relative_to(vault.resolve()) for access in self.inside)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchitectContext]:
    context = ArchitectContext.from_settings(
        architect_settings(tmp_path_factory.mktemp("heldout-access") / "home")
    )
    yield context
    context.close()


@pytest.fixture
def accesses(ctx: ArchitectContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullTierWatch]:
    with watching(heldout_files(ctx.settings.home_path, PROJECT_ROOT)) as watch:
        watched = FullTierWatch(watch, run_full)
        monkeypatch.setattr("ratchet.ci.tiers.run_full", watched.run_full)
        yield watched


def run(ctx: ArchitectContext, accesses: FullTierWatch, text: str, **job: Any) -> Job:
    ctx.jobs.create(JobKind.FEEDBACK, text, **job)
    (done,) = Worker(ctx).run_pending()
    accesses.settle()
    return done


def passed(job: Job) -> set[str]:
    """The stages some candidate of ``job`` passed."""
    return {s.name for c in job.candidates for s in c.stages if s.status is StageStatus.PASSED} | {
        s.name for s in job.stages if s.status is StageStatus.PASSED
    }


def assert_only_the_full_tier_read(
    ctx: ArchitectContext, job: Job, accesses: FullTierWatch, *, released: bool
) -> None:
    assert {"coder", "micro", "fast"} <= passed(job), (job.reason, job.stages)
    assert accesses.outside == [], "\n".join(map(str, accesses.outside))
    if released:  # the positive control: the full tier's reads are seen
        assert job.version is not None, (job.reason, job.stages)
        assert accesses.vault_read_inside(ctx.settings.heldout_path), accesses.inside


# First: the recorded edit favours v0.1.0's blend arm, which calibration would undo on a
# base that a release already calibrated.
def test_an_llm_job_reads_the_vault_in_the_full_tier_only(
    ctx: ArchitectContext, accesses: FullTierWatch, tmp_path: Path
) -> None:
    text = (ctx.settings.workspace_path / STATE).read_text()
    script = write_script("good_edit.json", tmp_path / "good_edit.json", **blend_edit(text))
    with replaying(script) as server:
        job = run(with_llm(ctx, server), accesses, "too many card questions are misrouted")
    assert job.coder == "llm"
    assert_only_the_full_tier_read(ctx, job, accesses, released=True)


def test_a_patch_job_reads_the_vault_in_the_full_tier_only(
    ctx: ArchitectContext, accesses: FullTierWatch
) -> None:
    job = run(
        ctx, accesses, "say which version answers", patch=good_patch(ctx.settings.workspace_path)
    )
    assert job.coder == "patch"
    assert_only_the_full_tier_read(ctx, job, accesses, released=True)


def test_a_template_job_reads_the_vault_in_the_full_tier_only(
    ctx: ArchitectContext, accesses: FullTierWatch
) -> None:
    job = run(ctx, accesses, "word weights matter more than they are given")
    assert job.coder == "template"
    assert_only_the_full_tier_read(ctx, job, accesses, released=True)


def test_a_command_job_reads_no_heldout_split_outside_the_full_tier(
    ctx: ArchitectContext, accesses: FullTierWatch, tmp_path: Path
) -> None:
    cli = tmp_path / "cli.py"
    cli.write_text(CLI)
    settings = ctx.settings.model_copy(
        update={"coder": "command", "command": [sys.executable, str(cli)]}
    )
    job = run(dataclasses.replace(ctx, settings=settings), accesses, "a note")
    assert job.coder == "command"
    assert_only_the_full_tier_read(ctx, job, accesses, released=False)
