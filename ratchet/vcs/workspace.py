"""The workspace: a clone of the project under the home folder.

Releases are committed and tagged here, never in the developer's checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from git import Repo

import ratchet
from ratchet.errors import ConfigError
from ratchet.vcs.repo import BOT_EMAIL, BOT_NAME, is_repository, open_repo


def default_project_root() -> Path:
    """The checkout this code runs from (an editable install), if it is one."""
    return Path(ratchet.__file__).resolve().parents[1]


def ensure_workspace(workspace: Path, source: Path | None = None) -> bool:
    """Clone ``source`` into ``workspace`` unless it already exists; True if created."""
    if is_repository(workspace):
        return False
    if workspace.exists() and any(p.is_file() for p in workspace.rglob("*")):
        raise ConfigError(
            f"{workspace} exists but is not a git repository; move it away and run `ratchet init`"
        )
    if workspace.exists():  # empty folders only (a command run before `init` may make them)
        shutil.rmtree(workspace)
    origin = (source or default_project_root()).resolve()
    if not is_repository(origin):
        raise ConfigError(
            f"cannot create the workspace: {origin} is not a git checkout; "
            "set RATCHET_PROJECT_ROOT to the project's clone"
        )
    workspace.parent.mkdir(parents=True, exist_ok=True)
    # Without the source's tags: release tags are the workspace's own. A project's
    # own `vX.Y.Z` tags (or, for a candidate's test suite, the releases of the
    # workspace its tree came from) would otherwise pass for Ratchet releases.
    Repo.clone_from(str(origin), str(workspace), no_tags=True).close()
    with open_repo(workspace) as repo, repo.config_writer() as config:
        config.set_value("user", "name", BOT_NAME)
        config.set_value("user", "email", BOT_EMAIL)
    return True
