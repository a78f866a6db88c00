"""Re-opening a test's object store in another process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ratchet.objects import FilesystemObjectStore, ObjectStore, S3ObjectStore
from ratchet.objects.s3 import make_client
from tests.helpers.s3server import install_s3_environment


def describe(store: ObjectStore) -> dict[str, Any]:
    if isinstance(store, FilesystemObjectStore):
        return {"backend": "filesystem", "root": str(store.root)}
    assert isinstance(store, S3ObjectStore)
    return {
        "backend": "s3",
        "endpoint": store.client.meta.endpoint_url,
        "bucket": store.bucket,
        "prefix": store.prefix,
    }


def reopen(description: dict[str, Any]) -> ObjectStore:
    if description["backend"] == "filesystem":
        return FilesystemObjectStore(Path(description["root"]))
    install_s3_environment()
    client = make_client(description["endpoint"], "us-east-1")
    return S3ObjectStore(client, description["bucket"], description["prefix"])
