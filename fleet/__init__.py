"""The operator's package: the ``ratchet`` command line, the supervisor, the demo.

Sits on top of the core library (:mod:`ratchet`) and the services: it starts
the four processes (``python -m services.<name>``), talks to them, and drives
the demo. Static, like the core: neither the Tuner nor the Architect edits it.
Nothing below it imports it (import-linter contract ``layers``).
"""
