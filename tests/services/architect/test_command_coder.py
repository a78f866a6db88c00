"""The ``command`` coder with a real (small) coding CLI: prompt in, the worktree's diff out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from services.architect.coders import (
    CoderError,
    CodingRequest,
    CommandCoder,
    PatchCoder,
    coder_for,
)
from services.architect.context import ArchitectContext
from services.architect.jobs import CandidateStatus, JobKind, JobStatus
from services.architect.settings import ArchitectSettings
from services.architect.worker import Worker
from tests.conftest import git
from tests.services.architect.conftest import architect_settings

# A coding CLI in miniature: it reads its prompt (argv or stdin) and acts on the words
# in it, as a real one would act on the feedback.
CLI = r"""
import os, subprocess, sys, time
prompt = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
feedback = prompt.split("Feedback:\n", 1)[1].split("\n\nEvidence:", 1)[0]
print("thinking about:", feedback)
if "nothing" in feedback:
    print("I looked around and found nothing to change")
elif "fail" in feedback:
    print("cannot reach the model", file=sys.stderr)
    sys.exit(3)
elif "hang" in feedback:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open(os.environ["PID_FILE"], "w").write(str(child.pid))
    print("working on it", flush=True)
    time.sleep(120)
elif "static" in feedback:
    with open("services/architect/app.py", "a") as f:
        f.write("# the CLI was here\n")
else:
    os.makedirs("services/runner", exist_ok=True)
    with open("services/runner/NOTES.md", "w") as f:
        f.write(prompt + "token:" + os.environ.get("RATCHET_TOKEN", "(none)") + "\n")
        f.write("model:" + os.environ.get("CLI_MODEL", "(unset)") + "\n")
"""


@pytest.fixture
def cli(tmp_path: Path) -> Path:
    script = tmp_path / "cli.py"
    script.write_text(CLI)
    return script


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "services").mkdir(parents=True)
    (root / "README.md").write_text("a repository\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return root


def request(text: str) -> CodingRequest:
    return CodingRequest("job-1", text, evidence={"slo": "routing_accuracy"}, base_version="v1.2.0")


def test_the_prompt_goes_in_the_argv_and_the_changes_are_the_candidate(
    cli: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_TOKEN", "secret")  # the Architect's, never the CLI's
    coder = CommandCoder([sys.executable, str(cli), "{prompt}"], env={"CLI_MODEL": "m1"})
    proposal = coder.propose(request("route card questions better"), tree, 0)
    notes = (tree / "services/runner/NOTES.md").read_text()
    assert "route card questions better" in notes and '"slo": "routing_accuracy"' in notes
    assert "version v1.2.0" in notes
    assert "token:(none)" in notes and "model:m1" in notes
    assert proposal.summary.endswith("changed 1 file(s)")
    assert "changed services/runner/NOTES.md" in proposal.log


def test_without_a_placeholder_the_prompt_goes_on_stdin(cli: Path, tree: Path) -> None:
    coder = CommandCoder([sys.executable, str(cli)])
    coder.propose(request("route card questions better"), tree, 0)
    assert "route card questions better" in (tree / "services/runner/NOTES.md").read_text()


def test_a_cli_that_changes_nothing_or_fails_gives_no_candidate_with_its_output(
    cli: Path, tree: Path
) -> None:
    coder = CommandCoder([sys.executable, str(cli)])
    with pytest.raises(CoderError, match=r"(?s)changed nothing.*found nothing to change"):
        coder.propose(request("there is nothing to do"), tree, 0)
    with pytest.raises(CoderError, match=r"(?s)exited with 3.*cannot reach the model"):
        coder.propose(request("this will fail"), tree, 0)
    with pytest.raises(CoderError, match="cannot start"):
        CommandCoder([str(tree / "no-such-cli")]).propose(request("x"), tree, 0)
    assert git(tree, "status", "--porcelain") == ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie is dead, waiting for its (new) parent to reap it


def test_a_timeout_kills_the_whole_process_group(
    cli: Path, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    coder = CommandCoder([sys.executable, str(cli)], timeout=2, env={"PID_FILE": str(pid_file)})
    with pytest.raises(
        CoderError, match=r"(?s)timed out after 2 s \(process group killed\).*working"
    ):
        coder.propose(request("hang forever"), tree, 0)
    child = int(pid_file.read_text())
    # SIGKILL is delivered at once, but the kernel may take a moment to tear down.
    for _ in range(200):
        if not _alive(child):
            break
        os.sched_yield()
    assert not _alive(child), "the CLI's child outlived the timeout"


def test_the_setting_selects_the_command_coder(tmp_path: Path, cli: Path) -> None:
    settings = ArchitectSettings(
        home=tmp_path / "home", coder="command", command=[sys.executable, str(cli)]
    )
    coder = coder_for(request("x"), settings)
    assert isinstance(coder, CommandCoder) and coder.must_improve
    assert coder.argv == [sys.executable, str(cli)] and coder.timeout == settings.command_timeout
    with_diff = CodingRequest("j", "x", patch="--- a/x\n+++ b/x\n", base_version="v0.1.0")
    assert isinstance(coder_for(with_diff, settings), PatchCoder)


def test_a_command_job_meets_the_same_policy_as_any_candidate(tmp_path: Path, cli: Path) -> None:
    settings = architect_settings(
        tmp_path / "home", coder="command", command=[sys.executable, str(cli)]
    )
    ctx = ArchitectContext.from_settings(settings)
    try:
        ctx.jobs.create(JobKind.FEEDBACK, "touch the static code")
        (job,) = Worker(ctx).run_pending()
    finally:
        ctx.close()
    assert (job.status, job.failed_stage, job.coder) == (JobStatus.REJECTED, "policy", "command")
    assert "services/architect/app.py" in job.reason
    (candidate,) = job.candidates
    assert candidate.status is CandidateStatus.REJECTED and candidate.commit
    assert candidate.fingerprint.startswith("diff:") and len(candidate.fingerprint) == 21
    assert [s.name for s in candidate.stages] == ["worktree", "coder", "policy"]
