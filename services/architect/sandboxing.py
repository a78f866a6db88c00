"""Whether a job may run its candidates on this machine, given the sandbox it has.

Every candidate process runs in the machine's sandbox (:mod:`ratchet.sandbox`).
Where there is none, code nobody reviewed (the template, LLM and command
coders' candidates) would run with the Architect's rights, so those jobs are
refused at the plan; a human's diff (the ``patch`` coder) still runs, with a
warning on the job. ``RATCHET_SANDBOX=bwrap`` on a machine without one refuses
every job: its tiers could not start a candidate.
"""

from __future__ import annotations

from ratchet.sandbox import SandboxSupport, sandbox_support

from .coders import Coder
from .stages import Rejected

DOCTOR = "see `ratchet doctor`"


def described(support: SandboxSupport) -> str:
    """The sandbox in a few words, for a job's log."""
    if support.available:
        return (
            f"{support.kind} {support.version or '(version unknown)'}, "
            f"process count held by {support.process_limit}"
        )
    return f"none ({support.reason})"


def sandbox_gate(coder: Coder) -> tuple[str, str | None]:
    """The plan's line on the sandbox, and a warning for the job when ``coder``'s
    candidates run unconfined; Rejected when they may not run at all."""
    try:
        support = sandbox_support()
    except ValueError as exc:  # RATCHET_SANDBOX names no mode
        raise Rejected(f"{exc}; {DOCTOR}") from None
    line = f"sandbox: {described(support)}"
    if support.available:
        return line, None
    if support.required:
        raise Rejected(
            f"RATCHET_SANDBOX=bwrap, but there is no sandbox on this machine: "
            f"{support.reason}; no candidate can run; {DOCTOR}"
        )
    if coder.autonomous:
        raise Rejected(
            f"no sandbox on this machine: {support.reason}; autonomous coders are refused; {DOCTOR}"
        )
    return line, (
        f"no sandbox on this machine ({support.reason}): this human patch's candidate runs "
        f"unconfined, with the Architect's rights; {DOCTOR}"
    )
