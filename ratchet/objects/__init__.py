"""Object store: the same keys on a local directory or on S3."""

from __future__ import annotations

from pathlib import Path

from ratchet.config import Backend, CommonSettings
from ratchet.objects.base import ObjectStore, StoredObject, etag_of, validate_key
from ratchet.objects.filesystem import FilesystemObjectStore
from ratchet.objects.s3 import S3ObjectStore, make_client

__all__ = [
    "FilesystemObjectStore",
    "ObjectStore",
    "S3ObjectStore",
    "StoredObject",
    "etag_of",
    "open_object_store",
    "validate_key",
]


def open_object_store(
    settings: CommonSettings, *, namespace: str = "objects", local_root: Path | None = None
) -> ObjectStore:
    """The store for one namespace under the configured backend.

    ``objects`` (eval summaries, artifacts, telemetry) lives under the home
    folder; the State Manager asks for ``state`` rooted in the workspace's
    ``state/`` directory. On S3 each namespace is a prefix of one bucket.
    """
    if settings.backend == Backend.S3:
        prefix = "/".join(p for p in (settings.s3_prefix.strip("/"), namespace) if p)
        client = make_client(settings.s3_endpoint_url, settings.s3_region)
        return S3ObjectStore(client, settings.s3_bucket, prefix)
    return FilesystemObjectStore(local_root or settings.home_path / namespace)
