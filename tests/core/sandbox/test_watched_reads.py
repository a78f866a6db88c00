"""The file watch the held-out access tests rely on sees a confined process's reads:
bubblewrap binds the same inode into the sandbox, and inotify watches the inode."""

from __future__ import annotations

from pathlib import Path

from tests.core.sandbox.conftest import requires_bwrap
from tests.core.sandbox.test_confinement import PROBE, confined_python
from tests.helpers.file_access import Access, watching

pytestmark = requires_bwrap


def test_a_read_inside_the_sandbox_is_seen_by_the_watch(tree: Path) -> None:
    module = (tree / "module.py").resolve()
    with watching([module]) as watch:
        answer = confined_python(tree, PROBE, f'["{module}"]')
        seen = watch.drain()
    assert answer["seen"][str(module)] == "VALUE = 1\n"  # read through the sandbox's bind
    assert Access(module, "open") in seen and Access(module, "read") in seen
