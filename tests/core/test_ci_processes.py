"""What the harness reads of a process through ``/proc``: its descendants, their peak memory."""

from __future__ import annotations

import subprocess
import sys

from ratchet.ci.processes import descendants, peak_rss_mb

HOLDS_120_MB = (  # touches every page, so all of it is resident
    "b = bytearray(120 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
    "print('held', flush=True); input()"
)


def test_the_peak_memory_of_a_process_is_found_in_its_descendants() -> None:
    """As under a sandbox's launcher: the memory is in a grandchild, not the pid started."""
    launcher = subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -c "{HOLDS_120_MB}"; true'],  # sh stays its parent
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None and launcher.stdout.readline() == "held\n"
        (python,) = descendants(launcher.pid)
        peak = peak_rss_mb(launcher.pid)
        assert peak is not None and 120 <= peak < 200
        assert peak == peak_rss_mb(python)
    finally:
        launcher.communicate(timeout=30)  # end of input: the child exits, then sh
    assert peak_rss_mb(2**22 + 12345) is None  # no such process
