"""Fixtures of the red-team suite: grounds whose candidate volumes are removed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ratchet.sandbox import volume
from tests.redteam.attacks import Ground, make_ground


@pytest.fixture
def ground(tmp_path: Path) -> Iterator[Callable[[str], Ground]]:
    """``ground(name)``: a fresh home around a candidate's tree under ``tmp_path``."""
    made: list[Ground] = []

    def make(name: str) -> Ground:
        made.append(make_ground(tmp_path / name))
        return made[-1]

    yield make
    for each in made:
        volume.release(each.tree)
