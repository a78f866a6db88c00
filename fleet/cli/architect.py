"""``ratchet feedback`` and ``ratchet jobs``: the Architect's commands, pointed at the
Architect this home's ``ratchet up`` serves.

The fleet binds where its settings say, port 0 included (a free port chosen at
start), and writes where it is in ``{home}/run/fleet.json`` (:mod:`fleet.record`);
a command run in another shell, without those settings, finds it there.
``RATCHET_ARCHITECT_HOST`` or ``RATCHET_ARCHITECT_PORT``, when set, win.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import ParamSpec
from urllib.parse import urlsplit

from fleet import record as fleet_record
from ratchet.config import CommonSettings, load
from ratchet.errors import RatchetError
from services.architect import cli

P = ParamSpec("P")


def at_the_running_architect(command: Callable[P, None]) -> Callable[P, None]:
    """``command`` with the running fleet's Architect address in its environment."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with _environment(_running_architect()):
            command(*args, **kwargs)

    return run


def _running_architect() -> dict[str, str]:
    """The settings that reach the Architect of this home's live fleet record, if any and
    if the user set neither host nor port."""
    if {"RATCHET_ARCHITECT_HOST", "RATCHET_ARCHITECT_PORT"} & os.environ.keys():
        return {}
    try:
        running = fleet_record.read(load(CommonSettings).home_path)
    except RatchetError:  # bad settings: the command itself says so
        return {}
    if running is None or not running.alive():
        return {}
    url = urlsplit(running.urls.get("architect", ""))
    if url.port is None:
        return {}
    return {
        "RATCHET_ARCHITECT_HOST": url.hostname or "127.0.0.1",
        "RATCHET_ARCHITECT_PORT": str(url.port),
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment for the block, then as they were."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


feedback = at_the_running_architect(cli.feedback)
jobs = at_the_running_architect(cli.jobs)
