"""One labelled CSV a user already has, made into a task folder.

The held-out split is stratified and deterministic: within each label, rows
are ordered by the SHA-256 of their text and the first ``round(share * n)``
(at least one, for a label with two rows or more) become ``test.csv``; the
rest, in their input order, are ``train.csv``. The same CSV always gives the
same bytes, whatever order its rows came in. Out-of-scope rows (``oos_label``)
are split the same way.

Every defect of the input is named by its file and line before anything is
written; the folder is written next to its destination, checked with
:func:`~ratchet.tasks.check.inspect`, and only then moved into place.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ratchet.tasks.check import inspect, repeated_rows
from ratchet.tasks.manifest import MANIFEST, NAME_PATTERN, TEST, TRAIN, IntentManifest
from ratchet.tasks.problems import Problem, TaskError
from ratchet.tasks.split import text_digest
from ratchet.tasks.table import Row, Table, read_table

DEFAULT_TEST_SHARE = 0.2


@dataclass(frozen=True)
class ImportRequest:
    """What ``ratchet task import`` was asked to do."""

    csv: Path
    text_column: str
    label_column: str
    out: Path
    test_share: float = DEFAULT_TEST_SHARE
    oos_label: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Imported:
    folder: Path
    name: str
    labels: tuple[str, ...]
    train_rows: int
    test_rows: int
    oos_rows: int


def import_csv(request: ImportRequest) -> Imported:
    """Write the task folder ``request.out``; TaskError (nothing written) on any defect."""
    source = request.csv.name
    name = request.name if request.name is not None else task_name(request.csv)
    _refuse_bad_request(request, name)
    table = read_table(request.csv, request.text_column, request.label_column)
    problems = table.problems or [problem for problem, _ in repeated_rows(table)]
    if problems:
        raise TaskError(str(request.csv), problems)
    labels = tuple(sorted({row.label for row in table.rows} - {request.oos_label}))
    train, test = stratified_split(table.rows, request.test_share)
    problems = _too_few(table, labels, train)
    if len(labels) < 2:
        problems.append(Problem(source, None, f"{len(labels)} label(s): a task needs two or more"))
    if problems:
        raise TaskError(str(request.csv), problems)
    manifest = IntentManifest(
        name=name,
        kind="intent",
        labels=labels,
        text_column=request.text_column,
        label_column=request.label_column,
        oos_label=request.oos_label,
        source=source,
    )
    _write_checked(request, manifest, train, test)
    return Imported(
        request.out,
        name,
        labels,
        len(train),
        len(test),
        sum(row.label == request.oos_label for row in table.rows),
    )


def task_name(csv_path: Path) -> str:
    """A valid task name from a file name: ``Support Tickets.csv`` -> ``support-tickets``."""
    return re.sub(r"[^a-z0-9_-]+", "-", csv_path.stem.lower()).strip("-_")[:63]


def stratified_split(rows: list[Row], share: float) -> tuple[list[Row], list[Row]]:
    """(train, test): per label, the first ``round(share * n)`` rows by text hash are test."""
    by_label: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    held: set[int] = set()
    for group in by_label.values():
        count = round(share * len(group))
        if len(group) >= 2:
            count = min(max(count, 1), len(group) - 1)
        ordered = sorted(group, key=lambda row: (text_digest(row.text), row.line))
        held.update(row.line for row in ordered[:count])
    return [r for r in rows if r.line not in held], [r for r in rows if r.line in held]


def _refuse_bad_request(request: ImportRequest, name: str) -> None:
    reasons = []
    if not request.csv.is_file():
        reasons.append(Problem(str(request.csv), None, "no such file"))
    if not 0 < request.test_share < 1:
        reasons.append(Problem("--test-share", None, f"{request.test_share}: between 0 and 1"))
    if not re.match(NAME_PATTERN, name):
        reasons.append(
            Problem("--name", None, f"{name!r}: lowercase letters, digits, - and _ (1-63)")
        )
    if request.out.exists() and (not request.out.is_dir() or any(request.out.iterdir())):
        reasons.append(Problem(str(request.out), None, "exists and is not an empty folder"))
    if request.oos_label is not None and not request.oos_label.strip():
        reasons.append(Problem("--oos-label", None, "empty"))
    if reasons:
        raise TaskError(str(request.csv), reasons)


def _too_few(table: Table, labels: tuple[str, ...], train: list[Row]) -> list[Problem]:
    """Labels whose training share would be under the manifest's ``min_rows_per_label``."""
    needed = IntentManifest.model_fields["min_rows_per_label"].default
    kept: defaultdict[str, int] = defaultdict(int)
    for row in train:
        kept[row.label] += 1
    problems = []
    for label in labels:
        if kept[label] < needed:
            rows = [row for row in table.rows if row.label == label]
            problems.append(
                Problem(
                    table.file,
                    rows[0].line,
                    f"label {label!r} has {len(rows)} rows: {kept[label]} left for train.csv "
                    f"after the test share, at least {needed} are needed to carve dev",
                )
            )
    return problems


def _write_checked(
    request: ImportRequest, manifest: IntentManifest, train: list[Row], test: list[Row]
) -> None:
    """Write into a sibling temp folder, check it, then move it to ``request.out``."""
    out = request.out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / MANIFEST).write_text(manifest_toml(manifest), encoding="utf-8")
        for name, rows in ((TRAIN, train), (TEST, test)):
            (staging / name).write_bytes(csv_bytes(manifest, rows))
        found = inspect(staging)
        if not found.ok:
            # The checks above should make this impossible; say why rather than
            # leave a folder that `ratchet init --task` would refuse.
            raise TaskError(f"the task made from {request.csv}", found.problems)
        if out.exists():
            out.rmdir()  # empty, checked before
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def csv_bytes(manifest: IntentManifest, rows: list[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([manifest.text_column, manifest.label_column])
    writer.writerows([row.text, row.label] for row in rows)
    return buffer.getvalue().encode("utf-8")


def manifest_toml(manifest: IntentManifest) -> str:
    """``task.toml`` for an imported task (JSON strings are TOML basic strings)."""

    def quoted(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        f"# Imported by `ratchet task import` from {manifest.source}: see docs/tasks.md.",
        f"name = {quoted(manifest.name)}",
        'kind = "intent"',
        f"text_column = {quoted(manifest.text_column)}",
        f"label_column = {quoted(manifest.label_column)}",
    ]
    if manifest.oos_label is not None:
        lines.append(f"oos_label = {quoted(manifest.oos_label)}")
    lines.append(f"source = {quoted(manifest.source)}")
    lines.append("labels = [")
    lines.extend(f"  {quoted(label)}," for label in manifest.labels or ())
    lines.append("]")
    return "\n".join(lines) + "\n"
