"""What `RATCHET_SANDBOX` and the machine give: found by trying, said in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.sandbox import SandboxUnavailable, configured_mode, sandbox_support, support
from tests.core.sandbox.conftest import requires_bwrap


def test_the_mode_defaults_to_auto_and_refuses_unknown_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RATCHET_SANDBOX", raising=False)
    assert configured_mode() == "auto"
    monkeypatch.setenv("RATCHET_SANDBOX", "bwrap")
    assert configured_mode() == "bwrap"
    monkeypatch.setenv("RATCHET_SANDBOX", "docker")
    with pytest.raises(ValueError, match="expected one of auto, bwrap, none"):
        configured_mode()


def test_none_turns_it_off_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATCHET_SANDBOX", "none")
    found = sandbox_support()
    assert (found.kind, found.available) == ("none", False)
    assert "RATCHET_SANDBOX=none" in found.reason


def test_a_machine_without_bubblewrap_gets_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    found = support.probe("auto")
    assert not found.available and "apt-get install bubblewrap" in found.reason


def test_a_bubblewrap_the_kernel_refuses_is_no_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr("shutil.which", lambda name: str(fake))
    found = support.probe("bwrap")
    assert not found.available and found.required
    assert "No permissions to create new namespace" in found.reason


def test_required_but_missing_refuses_to_run_a_candidate_unconfined(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ratchet.ci.children import run
    from ratchet.sandbox import confine

    monkeypatch.setenv("RATCHET_SANDBOX", "bwrap")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="RATCHET_SANDBOX=bwrap"):
        run(["true"], confinement=confine(tmp_path))


@requires_bwrap
def test_this_machine_records_what_its_sandbox_holds() -> None:
    recorded = support.probe("auto").to_json()
    assert recorded["kind"] == "bwrap" and recorded["version"]
    assert any("no network" in rule for rule in recorded["rules"])  # type: ignore[attr-defined]


def test_a_tier_that_cannot_confine_its_candidate_fails_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ratchet.ci.fast import run_fast
    from ratchet.state import StateDocument
    from tests.conftest import PROJECT_ROOT

    monkeypatch.setenv("RATCHET_SANDBOX", "bwrap")
    monkeypatch.setattr("shutil.which", lambda name: None)
    state = StateDocument.from_file_bytes(
        "state", (PROJECT_ROOT / "state" / "active.state.json").read_bytes()
    )
    report = run_fast(state, PROJECT_ROOT, PROJECT_ROOT, unit_tests=("tests/core",))
    assert not report.passed
    assert (
        "unit tests not run: RATCHET_SANDBOX=bwrap, but bubblewrap is not installed"
        in (report.reasons[0])
    )
    report = run_fast(state, PROJECT_ROOT, PROJECT_ROOT)
    assert not report.passed and "RATCHET_SANDBOX=bwrap" in report.reasons[0]
