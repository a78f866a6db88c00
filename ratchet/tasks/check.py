"""Everything that can be wrong with a task folder, found in one pass.

:func:`inspect` reads the manifest and both splits and names each problem by
file and line; :func:`ratchet.tasks.task.load_task` refuses a folder with any.
Duplicates and test rows that repeat a training row (leakage) are problems
unless the manifest's ``accept`` keeps them: a published benchmark is kept as
published, and ``ratchet task check`` still lists them as warnings.

A task a user brings has both splits (``task check``, ``task import``, ``init``
check them together); a tree Ratchet serves from has ``train.csv`` only: its
held-out split is kept out of every tree a candidate runs from
(:mod:`ratchet.tasks.heldout`), so there only the training checks run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ratchet.tasks.manifest import GOLDEN, REPLIES, TEST, TRAIN, IntentManifest, read_manifest
from ratchet.tasks.problems import Problem
from ratchet.tasks.split import is_dev
from ratchet.tasks.table import Row, Table, normalised, read_table


@dataclass
class Inspection:
    folder: Path
    manifest: IntentManifest | None = None
    train: Table | None = None
    test: Table | None = None
    labels: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def inspect(folder: Path, *, require_test: bool = True) -> Inspection:
    """Read and check the task in ``folder`` (nothing is written).

    ``require_test=False`` (a served tree) checks ``test.csv`` only when present.
    """
    found = Inspection(folder)
    if not folder.is_dir():
        found.problems.append(Problem(str(folder), None, "not a folder"))
        return found
    manifest, problems = read_manifest(folder)
    found.problems.extend(problems)
    if manifest is None:
        return found
    found.manifest = manifest
    has_test = (folder / TEST).is_file()
    for name in (TRAIN, TEST) if require_test else (TRAIN,):
        if not (folder / name).is_file():
            found.problems.append(
                Problem(name, None, "missing: a task needs train.csv and test.csv")
            )
    if found.problems:
        return found
    found.train = read_table(folder / TRAIN, manifest.text_column, manifest.label_column)
    found.problems.extend(found.train.problems)
    if has_test:
        found.test = read_table(folder / TEST, manifest.text_column, manifest.label_column)
        found.problems.extend(found.test.problems)
    found.labels = manifest.labels or tuple(
        sorted(set(found.train.label_counts()) - {manifest.oos_label})
    )
    _check_labels(found, manifest, found.train, found.test)
    _check_repeats(found, manifest, found.train, found.test)
    _check_extras(found, manifest)
    return found


def _check_labels(
    found: Inspection, manifest: IntentManifest, train: Table, test: Table | None
) -> None:
    allowed = set(found.labels) | {manifest.oos_label}
    counts = train.label_counts()
    for table in (train, test) if test is not None else (train,):
        for row in table.rows:
            if row.label not in allowed:
                reason = "not a declared label" if manifest.labels else "not a label of train.csv"
                if manifest.labels is None and table is train:
                    continue
                found.problems.append(Problem(table.file, row.line, f"{row.label!r}: {reason}"))
            elif table is test and row.label != manifest.oos_label and not counts.get(row.label):
                # Declared but never trained on: every such test row would be scored wrong.
                found.problems.append(
                    Problem(TEST, row.line, f"{row.label!r}: train.csv has no row of this label")
                )
    if manifest.labels is None and len(found.labels) < 2:
        found.problems.append(
            Problem(TRAIN, None, f"{len(found.labels)} label(s): a task needs two or more")
        )
    oos = manifest.oos_label
    tested = test.rows if test is not None else []
    if oos is not None and oos not in counts and any(row.label == oos for row in tested):
        found.warnings.append(
            Problem(
                TRAIN,
                None,
                f"no out-of-scope row ({oos!r}) while test.csv has some: "
                "the agent learns to abstain from train.csv only, so it never will",
            )
        )
    dev_counts = Counter(row.label for row in train.rows if is_dev(row.text))
    for label in found.labels:
        have = counts.get(label, 0)
        if have < manifest.min_rows_per_label:
            first = next((row.line for row in train.rows if row.label == label), None)
            found.problems.append(
                Problem(
                    TRAIN,
                    first,
                    f"label {label!r} has {have} rows; at least {manifest.min_rows_per_label} are "
                    "needed to carve dev from train (`min_rows_per_label`)",
                )
            )
        elif dev_counts.get(label, 0) == 0:
            found.warnings.append(
                Problem(
                    TRAIN, None, f"label {label!r} has no dev row (dev is a tenth, by text hash)"
                )
            )


def repeated_rows(table: Table) -> list[tuple[Problem, bool]]:
    """Rows that repeat an earlier row's text (case and spaces ignored), in file order:
    True with a duplicate (the same label as an earlier row of that text), False with a
    conflict (another label than the text's first row)."""
    found: list[tuple[Problem, bool]] = []
    first_seen: dict[tuple[str, str], int] = {}
    label_of: dict[str, Row] = {}
    for row in table.rows:
        key = (normalised(row.text), row.label)
        if key in first_seen:
            message = f"duplicate row: same as line {first_seen[key]}"
            found.append((Problem(table.file, row.line, message), True))
            continue
        first_seen[key] = row.line
        other = label_of.setdefault(key[0], row)
        if other.label != row.label:
            message = (
                f"same text as line {other.line} with another label "
                f"({row.label!r} against {other.label!r})"
            )
            found.append((Problem(table.file, row.line, message), False))
    return found


def _check_repeats(
    found: Inspection, manifest: IntentManifest, train: Table, test: Table | None
) -> None:
    accepted = set(manifest.accept)
    for table in (train, test) if test is not None else (train,):
        for problem, duplicate in repeated_rows(table):
            keep = duplicate and "duplicates" in accepted
            (found.warnings if keep else found.problems).append(problem)
    if test is None:  # a served tree: its held-out split was checked where it was stored
        return
    in_train = {normalised(row.text): row.line for row in train.rows}
    for row in test.rows:
        if normalised(row.text) in in_train:
            problem = Problem(
                TEST,
                row.line,
                f"leakage: the same text is train.csv:{in_train[normalised(row.text)]}",
            )
            (found.warnings if "leakage" in accepted else found.problems).append(problem)


def _check_extras(found: Inspection, manifest: IntentManifest) -> None:
    """``replies.json`` and ``golden.json``, when present, name only known labels."""
    allowed = set(found.labels)
    for name in (REPLIES, GOLDEN):
        path = found.folder / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            document = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            where: int | None = getattr(error, "lineno", None)
            found.problems.append(Problem(name, where, f"not a valid UTF-8 JSON document: {error}"))
            continue
        if name == REPLIES:
            _check_replies(found, document, text, allowed)
        else:
            _check_golden(found, document, text, {*allowed, manifest.oos_label})


def _check_replies(found: Inspection, document: object, text: str, allowed: set[str]) -> None:
    if not isinstance(document, dict) or not all(
        isinstance(v, list) and v and all(isinstance(t, str) and t.strip() for t in v)
        for v in document.values()
    ):
        found.problems.append(Problem(REPLIES, None, "expected {label: [reply text, ...]}"))
        return
    for label in document:
        if label not in allowed:
            key = re.search(rf"{re.escape(json.dumps(label))}\s*:", text)
            found.problems.append(
                Problem(REPLIES, _line_at(text, key), f"{label!r}: not a label of the task")
            )


def _check_golden(found: Inspection, document: object, text: str, allowed: set[str | None]) -> None:
    cases = document.get("cases") if isinstance(document, dict) else None
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("text"), str) and isinstance(c.get("intent"), str)
        for c in cases
    ):
        found.problems.append(Problem(GOLDEN, None, 'expected {"cases": [{"text", "intent"}]}'))
        return
    # The i-th `"intent":` key is case i's (a string value cannot hold an unescaped quote).
    keys = list(re.finditer(r'"intent"\s*:', text))
    for index, case in enumerate(cases):
        if case["intent"] not in allowed:
            key = keys[index] if len(keys) == len(cases) else None
            found.problems.append(
                Problem(
                    GOLDEN,
                    _line_at(text, key),
                    f"case {index}: {case['intent']!r} is not a label of the task",
                )
            )


def _line_at(text: str, match: re.Match[str] | None) -> int | None:
    return None if match is None else text.count("\n", 0, match.start()) + 1
