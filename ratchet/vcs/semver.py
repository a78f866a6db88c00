"""Release versions ``vMAJOR.MINOR.PATCH`` and how a release kind bumps them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_VERSION = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

FIRST = "v0.1.0"


class ReleaseKind(StrEnum):
    PATCH = "patch"  # the Tuner: state only
    MINOR = "minor"  # the Architect: compatible code, state or tests
    MAJOR = "major"  # incompatible tool schemas or a state migration


@dataclass(frozen=True, order=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``vX.Y.Z``; ValueError with the expected form otherwise."""
        match = _VERSION.match(text)
        if match is None:
            raise ValueError(
                f"malformed version {text!r}: expected vMAJOR.MINOR.PATCH, e.g. v0.1.0"
            )
        return cls(*(int(part) for part in match.groups()))

    @classmethod
    def is_valid(cls, text: str) -> bool:
        return _VERSION.match(text) is not None

    def bump(self, kind: ReleaseKind) -> Version:
        if kind is ReleaseKind.MAJOR:
            return Version(self.major + 1, 0, 0)
        if kind is ReleaseKind.MINOR:
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def next_version(latest: Version | None, kind: ReleaseKind) -> Version:
    """The version a release of ``kind`` gets; the first release is always v0.1.0."""
    if latest is None:
        return Version.parse(FIRST)
    return latest.bump(kind)
