"""Versions API: read-only registry of releases (static)."""
