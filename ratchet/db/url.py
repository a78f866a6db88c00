"""Which database a home's shared records live in: ``RATCHET_DATABASE_URL``.

Unset (the default), every store keeps its embedded SQLite file under the home's
data folder: nothing to run, one machine. ``postgresql://user:password@host/db``
puts them all in one Postgres database that processes on several machines share.
Anything else is a configuration error found at start, never at the first write.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ratchet.errors import ConfigError

VARIABLE = "RATCHET_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
EXAMPLE = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"


@dataclass(frozen=True)
class DatabaseUrl:
    """A checked Postgres URL; :meth:`redacted` is what logs and errors show."""

    url: str

    @property
    def redacted(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


def parse_database_url(value: str | None) -> DatabaseUrl | None:
    """None for the embedded SQLite files; the Postgres URL; or a ConfigError naming
    the variable and the fix."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    scheme = urlsplit(value).scheme
    if scheme not in POSTGRES_SCHEMES:
        shown = scheme or value.split(":", 1)[0]
        raise ConfigError(
            f"{VARIABLE}: the scheme {shown!r} is not supported; set it to {EXAMPLE} "
            "for Postgres, or unset it to keep the SQLite files in the home folder"
        )
    parts = urlsplit(value)
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigError(f"{VARIABLE}: no host in the URL; set it to {EXAMPLE}")
    return DatabaseUrl(value)
