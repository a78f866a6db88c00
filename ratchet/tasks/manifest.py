"""``task.toml``: what a task folder declares about itself.

A task is the user's input to Ratchet: a folder with this manifest and its CSV
splits. ``kind`` selects the contract; only ``intent`` exists today, and a new
kind (retrieval, say) is a new model in the :data:`Manifest` union, so the
intent fields never have to stretch to cover it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ratchet.tasks.problems import Problem

MANIFEST = "task.toml"
TRAIN = "train.csv"
TEST = "test.csv"
REPLIES = "replies.json"
GOLDEN = "golden.json"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

# Findings that a task may declare it knows of and keeps: a published benchmark's
# splits are kept as published so its numbers compare with the literature.
Acceptable = Literal["duplicates", "leakage"]


class SloOverrides(BaseModel):
    """The task's own service objectives, over ``ci/budgets.json``'s ``slos``."""

    model_config = ConfigDict(extra="forbid")
    routing_accuracy: float | None = Field(default=None, gt=0, lt=1)
    error_rate: float | None = Field(default=None, gt=0, lt=1)
    latency_p95_ms: float | None = Field(default=None, gt=0)


class IntentManifest(BaseModel):
    """An intent task: route a message to one label of a declared set, or to none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["intent"]
    description: str = Field(default="", max_length=500)
    labels: tuple[str, ...] | None = None  # None: the labels of train.csv, sorted
    text_column: str = "text"
    label_column: str = "label"
    oos_label: str | None = Field(default=None, min_length=1)  # out-of-scope rows' label
    oos_reply: str = "Sorry, I can't help with that here. Could you say it another way?"
    min_rows_per_label: int = Field(default=10, ge=2)
    accept: tuple[Acceptable, ...] = ()
    slos: SloOverrides = Field(default_factory=SloOverrides)
    source: str = ""
    licence: str = ""

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if labels is None:
            return None
        if len(labels) < 2:
            raise ValueError("declare at least two labels, or leave `labels` out")
        seen: set[str] = set()
        for label in labels:
            if not label.strip():
                raise ValueError("a label is empty")
            if label != label.strip():
                # CSV cells are stripped: such a label would match no row.
                raise ValueError(f"label {label!r} has spaces around it")
            if label in seen:
                raise ValueError(f"label {label!r} is declared twice")
            seen.add(label)
        return labels

    def oos_in_labels(self) -> bool:
        return self.oos_label is not None and self.oos_label in (self.labels or ())


Manifest = Annotated[IntentManifest, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[IntentManifest] = TypeAdapter(Manifest)


def read_manifest(folder: Path) -> tuple[IntentManifest | None, list[Problem]]:
    """The folder's manifest, or the problems that stop it from being one."""
    path = folder / MANIFEST
    if not path.is_file():
        return None, [Problem(MANIFEST, None, f"missing: a task folder needs {MANIFEST}")]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [Problem(MANIFEST, line, "not UTF-8 text")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # `lineno` exists from Python 3.14; before, the line is only in the message.
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        where: int | None = getattr(error, "lineno", None) or (found and int(found.group(1)))
        return None, [Problem(MANIFEST, where, f"not valid TOML: {error}")]
    try:
        manifest = _ADAPTER.validate_python(data)
    except ValidationError as error:
        return None, [_problem(text, issue) for issue in error.errors()]
    problems = []
    if manifest.oos_in_labels():
        problems.append(
            Problem(MANIFEST, _line_of(text, "labels"), "`labels` may not hold the `oos_label`")
        )
    return manifest, problems


def _problem(text: str, issue: object) -> Problem:
    details = dict(issue)  # type: ignore[call-overload]
    location = [str(part) for part in details.get("loc", ())]
    if location[:1] == ["intent"]:
        location = location[1:]  # the kind's tag, not a setting of the file
    field = next((part for part in location if not part.isdigit()), "")
    if details.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        field = "kind"  # the discriminator's errors carry no location
    where = ".".join(location) or field or "the manifest"
    message = str(details.get("msg", "invalid"))
    if details.get("type") == "extra_forbidden":
        message = "unknown setting (a typo?)"
    elif details.get("type") == "missing":
        message = "required"
    elif details.get("type") == "union_tag_invalid":
        message = "unknown kind: the kinds are intent"
    elif details.get("type") == "union_tag_not_found":
        message = 'required (kind = "intent")'
    return Problem(MANIFEST, _line_of(text, field) if field else None, f"{where}: {message}")


def _line_of(text: str, key: str) -> int | None:
    """The line that sets ``key`` (at any table), for the problem to point at."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=|^\s*\[{re.escape(key)}\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
