"""Architect: REST service turning textual feedback into gated releases (static)."""
