"""Signing keys: from settings when replicas must share one, else generated under home.

A generated key is created once, atomically, readable by the owner only, so
every process of one home signs and verifies with the same bytes.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ratchet.atomic import create_exclusive


def signing_key(home: Path, name: str, configured: str | None = None) -> bytes:
    """The key ``name``: ``configured`` if given, else ``home/secrets/{name}.key``."""
    if configured:
        return configured.encode()
    path = home / "secrets" / f"{name}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if create_exclusive(path, secrets.token_bytes(32)):
            path.chmod(0o600)
    return path.read_bytes()
