"""Ratchet core library: what the four processes share.

Static code: neither the Tuner nor the Architect ever edits anything under
this package. It imports no service and nothing of :mod:`fleet` (the
import-linter contract ``layers`` in ``pyproject.toml``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ratchet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
