"""The ``ratchet`` command line."""
