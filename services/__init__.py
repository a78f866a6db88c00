"""The four processes of the fleet, each a thin surface over :mod:`ratchet`.

``runner`` and ``tuner`` are Architect-editable; ``architect`` and
``versions`` are static, like the core library. None imports another
(the import-linter contract ``services-independent`` in ``pyproject.toml``).
"""
