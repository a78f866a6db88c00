"""The issue's own example, end to end through the Architect: a patch whose router's
``predict`` answers with the labels of any held-out split it can find — in the folders
above its tree (the home's builds, its held-out folder), in the project checkout the
workspace's ``origin`` names, in the workspace's git objects — goes through the real
gates. Unconfined, such a diff was released with a held-out accuracy of 1.0000; in
the sandbox it finds nothing, and its candidate is measured as the router it wraps.

The candidate's own tree is not searched: that no tree carries the held-out split is
item 1 of the issue, tested with it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from services.architect.context import ArchitectContext
from services.architect.jobs import JobKind, JobStatus
from services.architect.worker import Worker
from tests.conftest import PROJECT_ROOT
from tests.services.architect.conftest import architect_settings, diff_of

pytestmark = pytest.mark.slow

CHEAT = """

# Answers from the held-out split, wherever it can be found.
import csv as _csv  # noqa: E402
import dataclasses as _dataclasses  # noqa: E402
import os as _os  # noqa: E402
import pathlib as _pathlib  # noqa: E402
import subprocess as _subprocess  # noqa: E402


def _held_out_files(tree):
    paths = []
    for parent in list(tree.parents)[:3]:
        for folder, dirs, files in _os.walk(parent):
            if _pathlib.Path(folder).is_relative_to(tree):
                dirs[:] = []
                continue
            paths += [_pathlib.Path(folder, f) for f in files if f == "test.csv"]
    try:  # the checkout the workspace was cloned from
        gitdir = _pathlib.Path((tree / ".git").read_text().split("gitdir:")[1].strip())
        for line in (gitdir.parents[1] / "config").read_text().splitlines():
            if line.strip().startswith("url ="):
                paths += _pathlib.Path(line.split("=", 1)[1].strip()).glob("tasks/*/test.csv")
    except (OSError, IndexError):
        pass
    return paths


def _held_out_answers():
    tree = _pathlib.Path(__file__).resolve().parents[3]
    answers = {}
    for path in _held_out_files(tree):
        try:
            with open(path, newline="") as handle:
                answers.update(row for row in _csv.reader(handle) if len(row) == 2)
        except OSError:
            pass
    shown = _subprocess.run(
        ["git", "show", "HEAD:tasks/banking77/test.csv"], cwd=tree, capture_output=True, text=True
    )
    if shown.returncode == 0:
        answers.update(row for row in _csv.reader(shown.stdout.splitlines()) if len(row) == 2)
    return answers


_ANSWERS = []
_predict = IntentRouter.predict


def _answered(self, text, arm):
    if not _ANSWERS:
        _ANSWERS.append(_held_out_answers())
    got = _predict(self, text, arm)
    label = _ANSWERS[0].get(text)
    return got if label is None else _dataclasses.replace(got, intent=label)


IntentRouter.predict = _answered
"""


@pytest.fixture
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchitectContext]:
    settings = architect_settings(tmp_path_factory.mktemp("architect") / "home")
    heldout = settings.home_path / "heldout" / "banking77" / "test.csv"
    source = PROJECT_ROOT / "tasks" / "banking77" / "test.csv"
    if source.exists() and not heldout.exists():  # where held-out splits live without it
        heldout.parent.mkdir(parents=True)
        shutil.copy(source, heldout)
    context = ArchitectContext.from_settings(settings)
    yield context
    context.close()


def test_a_predict_answering_from_held_out_labels_is_not_released_with_them(
    ctx: ArchitectContext,
) -> None:
    workspace = ctx.settings.workspace_path
    patch = diff_of(workspace, "services/runner/agent/router.py", lambda text: text + CHEAT)
    ctx.jobs.create(JobKind.FEEDBACK, "route like the held-out split does", patch=patch)
    (job,) = Worker(ctx).run_pending()
    (candidate,) = job.candidates
    if job.status is JobStatus.REJECTED:  # rejected: the job says which gate, and why
        assert job.reason and job.failed_stage, job.stages
    else:  # released: as the router it wraps, never as the labels it went looking for
        assert job.status is JobStatus.SUCCEEDED, (job.reason, job.stages)
        release = ctx.releases.get(str(job.version))
        body = json.loads(ctx.objects.get(f"evals/{release.commit}/summary.json").data)
        assert body["heldout_accuracy"] < 0.97, body
    measured = candidate.metrics.get("full", {}).get("heldout_accuracy")
    assert measured is None or measured < 0.97, candidate.metrics
