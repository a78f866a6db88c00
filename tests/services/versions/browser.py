"""Debian's Chromium for page tests: installed on first use, run headless.

The set-up installs the ``chromium`` package when the binary is missing (CI
machines are fresh; we run as root there). ``make browser`` does the same
ahead of the suite; either way no browser is downloaded from anywhere but the
distribution's archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

INSTALL = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"
WINDOW = (1440, 1100)


def ensure_chromium() -> str:
    """The path of ``chromium``, installing Debian's package if it is missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"chromium is missing and cannot be installed here; run: {INSTALL}")
    with FileLock(Path(tempfile.gettempdir()) / "ratchet-chromium-install.lock"):
        if shutil.which("chromium") is None:  # another worker may have installed it meanwhile
            subprocess.run(["sh", "-c", INSTALL], check=True, capture_output=True, timeout=900)
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("installing chromium did not provide a `chromium` binary")
    return found


def headless(
    binary: str, url: str, *extra: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Load ``url`` headless, let its scripts run (virtual time), then do ``extra``."""
    with tempfile.TemporaryDirectory(prefix="ratchet-chromium-") as profile:
        return subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",  # root in a container: the sandbox needs user namespaces
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--virtual-time-budget=15000",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
