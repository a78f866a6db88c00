"""The few exception types of the core library.

Services convert them at their edge: MCP tools into ``isError`` results, REST
routes into 4xx/5xx responses with the message as the reason.
"""


class RatchetError(Exception):
    """Base class; the message is safe to show to a client."""


class ConfigError(RatchetError):
    """A setting is missing, malformed or unsafe (e.g. off loopback with no token)."""


class NotFoundError(RatchetError):
    """A key, document, version or tag that does not exist."""


class ConflictError(RatchetError):
    """A precondition failed: stale revision, existing tag, write-once key."""


class StaleRevisionError(ConflictError):
    """A compare-and-swap lost: the document moved on since it was read."""

    def __init__(self, expected: int, actual: int | None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stale revision: expected {expected}, the document is at {actual}; "
            "re-read, re-apply and retry"
        )


class PinnedError(ConflictError):
    """The active pointer is pinned; it moves only after an unpin."""


class PolicyError(RatchetError):
    """A write outside the paths the writer is allowed to touch."""


class CorruptDocumentError(RatchetError):
    """A stored document does not parse or fails its schema."""
