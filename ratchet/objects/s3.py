"""Object store on S3 (or any S3-compatible server) through boto3.

Compare-and-swap rides on S3's conditional writes: ``If-Match`` with the
ETag that was read, ``If-None-Match: *`` to create. A 412 or a 409
(concurrent conditional write) becomes a ConflictError for the caller to retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ratchet.errors import ConflictError, NotFoundError
from ratchet.objects.base import ObjectStore, StoredObject, validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def make_client(endpoint_url: str | None, region: str) -> S3Client:
    """A client with retries on throttling but none that would replay a conditional write."""
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)
    client: S3Client = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )
    return client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3ObjectStore(ObjectStore):
    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def __repr__(self) -> str:
        return f"S3ObjectStore(s3://{self.bucket}/{self.prefix})"

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def get(self, key: str) -> StoredObject:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise NotFoundError(f"no object {key!r}") from None
            raise
        return StoredObject(key=key, data=response["Body"].read(), etag=response["ETag"])

    def etag(self, key: str) -> str | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ETag"]
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "Body": data}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        try:
            return self.client.put_object(**kwargs)["ETag"]
        except ClientError as exc:
            if _code(exc) in _CONFLICT_CODES:
                raise ConflictError(f"{key}: conditional write refused ({_code(exc)})") from None
            if if_match is not None and _code(exc) in _MISSING_CODES:
                raise ConflictError(f"{key} no longer exists") from None
            raise

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (local S3-compatible servers start empty)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
