"""The four services' settings classes by name: what ``ratchet up`` runs and ``doctor`` checks.

The command line is the one place that knows every service's settings (it
validates them all and checks their ports); the services know only their own.
"""

from __future__ import annotations

from ratchet.config import ServiceSettings
from services.architect.settings import ArchitectSettings
from services.runner.settings import RunnerSettings
from services.tuner.settings import TunerSettings
from services.versions.settings import VersionsSettings

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    cls.service_name: cls
    for cls in (RunnerSettings, TunerSettings, ArchitectSettings, VersionsSettings)
}
