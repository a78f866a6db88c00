"""A stand-in for the Architect in the reaping tests: starts harness children, then waits.

Run with ``python -m tests.helpers.tier_parent MODE HOME``; prints one JSON line
of the pids it started, then blocks until it is killed (the test SIGKILLs it).

- ``candidate``: the full tier's candidate Runner and Tuner
  (:func:`ratchet.ci.candidate.candidate_services`) from this project's code,
  in ``HOME`` — what a killed Architect must not leave listening.
- ``grandchild``: a harness child (:func:`ratchet.ci.children.start`) that
  starts a grandchild of its own and pauses; the parent-death signal does not
  reach the grandchild, so only the reaper does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ratchet.ci.agent_process import tier_limits
from ratchet.ci.candidate import candidate_services, prepare_home
from ratchet.ci.children import start
from ratchet.state import StateDocument

ROOT = Path(__file__).resolve().parents[2]

# The harness child: starts a paused grandchild, says its pid, pauses too.
SPAWNER = """
import subprocess, sys, signal
grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print(grandchild.pid, flush=True)
signal.pause()
"""


def main() -> None:
    mode, home = sys.argv[1], Path(sys.argv[2])
    home.mkdir(parents=True, exist_ok=True)
    if mode == "candidate":
        state = StateDocument.from_file_bytes(
            "state", (ROOT / "state" / "active.state.json").read_bytes()
        )
        prepare_home(home, ROOT, state)
        with candidate_services(
            ("runner", "tuner"), ROOT, home, tier_limits(ROOT, "full")
        ) as services:
            print(json.dumps({name: s.process.pid for name, s in services.items()}), flush=True)
            sys.stdin.read()  # until killed
    elif mode == "grandchild":
        child = start([sys.executable, "-c", SPAWNER], cwd=home, stdout=subprocess.PIPE, text=True)
        assert child.process.stdout is not None
        grandchild = int(child.process.stdout.readline())
        print(json.dumps({"child": child.pid, "grandchild": grandchild}), flush=True)
        sys.stdin.read()  # until killed
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
