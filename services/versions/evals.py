"""Eval summaries from the object store, their key metrics and the budgets.

The full CI tier writes ``evals/{commit}/summary.json`` once per release
(write-once, so a summary read is kept for good). It may land after the tag,
so absence is never cached for long: single reads always look again, and the
chart's bulk view lists ``evals/`` again when the tags change or after
``refresh_interval`` seconds. The summary's shape is the Architect's; this
module only picks out the key metrics, at the top level or under a tier.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ratchet.errors import CorruptDocumentError
from ratchet.objects import ObjectStore, validate_key

from . import gitread
from .models import Budgets, Kpis, SandboxInfo

EVALS_PREFIX = "evals/"
TIER_ORDER = ("full", "fast", "micro")
BUDGETS_PATH = "ci/budgets.json"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def kpis_of(summary: dict[str, Any]) -> Kpis:
    """The key metrics, from the top level or else the most thorough tier reporting them."""
    tiers = summary.get("tiers")
    found: dict[str, float | None] = {}
    for name in Kpis.model_fields:
        value = _finite(summary.get(name))
        if value is None and isinstance(tiers, dict):
            for tier in TIER_ORDER:
                section = tiers.get(tier)
                if isinstance(section, dict) and (value := _finite(section.get(name))) is not None:
                    break
        found[name] = value
    return Kpis(**found)


def sandbox_of(summary: dict[str, Any]) -> SandboxInfo | None:
    """The sandbox the summary says its tiers ran under; None where it says none."""
    section = summary.get("sandbox")
    if not isinstance(section, dict):
        return None  # written before summaries recorded the sandbox
    try:
        return SandboxInfo.model_validate(section)
    except ValidationError:
        return None


def parse_summary(key: str, raw: bytes) -> dict[str, Any]:
    """The stored JSON object; NaN and infinities become null (JSON has neither)."""
    try:
        data = json.loads(raw, parse_constant=lambda _: None)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptDocumentError(f"{key} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CorruptDocumentError(f"{key} is not a JSON object")
    return data


class EvalStore:
    def __init__(self, objects: ObjectStore, refresh_interval: float) -> None:
        self.objects = objects
        self.refresh_interval = refresh_interval
        self._found: dict[str, dict[str, Any]] = {}
        self._listed: frozenset[str] = frozenset()
        self._listed_at = -math.inf
        self._lock = threading.Lock()

    def summary(self, key: str) -> dict[str, Any] | None:
        """The summary at ``key``, or None if none was written (yet)."""
        cached = self._found.get(key)
        if cached is not None:
            return cached
        try:
            validate_key(key)
        except ValueError:
            return None  # a release whose metadata names an impossible key has no summary
        stored = self.objects.get_or_none(key)
        if stored is None:
            return None
        data = self._found[key] = parse_summary(key, stored.data)
        return data

    def sandbox(self, key: str) -> SandboxInfo | None:
        """The sandbox of the summary at ``key``; None without one, or if it is unreadable
        (the release's detail still answers; ``/evals`` says what is wrong)."""
        try:
            summary = self.summary(key)
        except CorruptDocumentError:
            return None
        return None if summary is None else sandbox_of(summary)

    def summaries(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The summaries that exist among ``keys``: one listing, then only new reads."""
        listed = self._listing()
        found: dict[str, dict[str, Any]] = {}
        for key in keys:
            if key in self._found or key in listed or not key.startswith(EVALS_PREFIX):
                summary = self.summary(key)
                if summary is not None:
                    found[key] = summary
        return found

    def forget_listing(self) -> None:
        """New tags: the next bulk view lists the store again."""
        self._listed_at = -math.inf

    def _listing(self) -> frozenset[str]:
        with self._lock:
            now = time.monotonic()
            if now - self._listed_at >= self.refresh_interval:
                self._listed = frozenset(self.objects.list(EVALS_PREFIX))
                self._listed_at = now
            return self._listed


def budgets_at(workspace: Path, commit: str | None) -> tuple[Budgets, str]:
    """The budgets of ``ci/budgets.json`` at ``commit`` (else the workspace's), and whence."""
    document, source = None, "no ci/budgets.json found"
    if commit is not None:
        document = gitread.json_at(workspace, commit, BUDGETS_PATH)
        source = f"{BUDGETS_PATH} at {commit[:12]}"
    if document is None:
        path = workspace / BUDGETS_PATH
        try:
            document = json.loads(path.read_text())
            source = f"{BUDGETS_PATH} in the workspace"
        except (OSError, ValueError):
            return Budgets(), "no ci/budgets.json found"
    section = document.get("budgets") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        return Budgets(), f"{source} has no budgets"
    return Budgets(**{name: _finite(section.get(name)) for name in Budgets.model_fields}), source
