"""The state document: what the Runner serves with and the Tuner tunes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ratchet.errors import CorruptDocumentError

STAGING_KEY = "staging.state.json"
ACTIVE_KEY = "active.state.json"


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StateDocument(BaseModel):
    """Envelope around the agent's tunables.

    ``data`` is the agent's own (arms, parameters, preferences, rules); its
    shape is the business of the agent and of ``schema_version``'s migrations.
    ``revision`` counts staging writes; the active document keeps the revision
    of the staging document it was promoted from.
    """

    schema_version: int = Field(default=1, ge=1)
    revision: int = Field(default=0, ge=0)
    updated_at: str = Field(default_factory=utcnow)
    updated_by: str = "init"
    write_id: str | None = None  # unique per stored revision (see RevisionedDocument.write)
    data: dict[str, Any] = Field(default_factory=dict)
    # The Tuner's bookkeeping (feedback watermark, optimizer state): kept with the
    # data it produced so both move in one compare-and-swap; not seen by the agent
    # and not part of the content hash.
    tuning: dict[str, Any] | None = None

    @classmethod
    def parse(cls, source: str, document: dict[str, Any]) -> StateDocument:
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            raise CorruptDocumentError(f"{source} is not a state document: {exc}") from None

    @classmethod
    def from_file_bytes(cls, source: str, raw: bytes) -> StateDocument:
        try:
            return cls.parse(source, json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptDocumentError(f"{source} is not valid JSON: {exc}") from None

    def content_hash(self) -> str:
        """Hash of what the agent sees (schema and data), not of bookkeeping."""
        payload = json.dumps(
            {"schema_version": self.schema_version, "data": self.data},
            sort_keys=True,
            separators=(",", ":"),
        )
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        # exclude_none drops only an unset write_id; None values inside data stay.
        return self.model_dump(mode="json", exclude_none=True)
