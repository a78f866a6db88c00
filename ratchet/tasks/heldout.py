"""The held-out vault: each task's ``test.csv``, kept where no candidate can read it.

A home's trees (its workspace, the worktrees of jobs, the builds of releases)
carry a task's training data only: a candidate's code runs from them, so a
held-out label there could be read and answered back. The held-out split lives
under the home instead, in ``<home>/heldout/<task>/test.csv`` with a
``source.json`` (its SHA-256, its row count and where it came from), stored
once by ``ratchet init`` and read by the static harness (the full tier), which
sends the candidate texts only. Whoever only needs to know how many rows it has
(``ratchet status``, the Versions API, the Architect's baseline) reads the
record, so nothing but the full tier opens the split
(``tests/services/*/test_heldout_access.py`` watches). A home's held-out split
never changes: storing other bytes for the same task is an error, not a
replacement.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from ratchet.atomic import atomic_write_bytes
from ratchet.errors import ConflictError, NotFoundError
from ratchet.tasks.manifest import TEST
from ratchet.tasks.problems import Problem, TaskError
from ratchet.tasks.table import read_table
from ratchet.tasks.task import Example, Task

HELDOUT_DIR = "heldout"  # under the home folder
SOURCE_FILE = "source.json"


def heldout_file(vault: Path, name: str) -> Path:
    """Where task ``name``'s held-out split is kept in ``vault`` (``<home>/heldout``)."""
    return vault / name / TEST


def store_heldout(vault: Path, task: Task) -> bool:
    """Keep ``task``'s ``test.csv`` (from its folder) in ``vault``; True if written now."""
    source = task.folder / TEST
    if not source.is_file():
        raise NotFoundError(f"task {task.name}: {source} is missing: no held-out split to store")
    return store_heldout_bytes(vault, task.name, source.read_bytes(), str(source))


def store_heldout_bytes(vault: Path, name: str, data: bytes, source: str) -> bool:
    """Keep ``data`` as task ``name``'s held-out split; True if written now.

    Write-once: the same bytes again change nothing (a re-run ``init``), other
    bytes are a ConflictError. Each file is written atomically, the split first,
    so a crash leaves either nothing or a split whose record a re-run completes.
    """
    path = heldout_file(vault, name)
    digest = hashlib.sha256(data).hexdigest()
    if path.is_file():
        held = hashlib.sha256(path.read_bytes()).hexdigest()
        if held != digest:
            raise ConflictError(
                f"{path} already holds task {name}'s held-out split (sha256 {held[:12]}) and "
                f"{source} differs (sha256 {digest[:12]}): a home's held-out split never "
                "changes; use a new RATCHET_HOME for other data"
            )
        written = False
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        written = True
    record = path.parent / SOURCE_FILE
    if written or recorded_rows(vault, name) is None:
        document = {"task": name, "sha256": digest, "source": source, "rows": count_rows(data)}
        atomic_write_bytes(record, (json.dumps(document, indent=2) + "\n").encode())
    return written


def count_rows(data: bytes) -> int:
    """The rows of a split's bytes: the non-blank CSV records after the header (as many
    as :func:`load_heldout` returns for a split it accepts)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    if next(reader, None) is None:
        return 0
    return sum(1 for record in reader if "".join(record).strip())


def recorded_rows(vault: Path, name: str) -> int | None:
    """Task ``name``'s held-out row count from the vault's record, without opening the
    split; None when the split or its record is missing, or the record predates counts
    (``ratchet init`` adds them)."""
    record = vault / name / SOURCE_FILE
    if not heldout_file(vault, name).is_file():  # a stat: no open of the split
        return None
    try:
        rows = json.loads(record.read_text(encoding="utf-8")).get("rows")
    except (OSError, ValueError):
        return None
    return rows if isinstance(rows, int) else None


def record_rows(vault: Path, name: str) -> bool:
    """Add the row count to a record written before counts were; True if it did."""
    path = heldout_file(vault, name)
    if not path.is_file() or recorded_rows(vault, name) is not None:
        return False
    try:
        source = str(json.loads((path.parent / SOURCE_FILE).read_text(encoding="utf-8"))["source"])
    except (OSError, ValueError, KeyError):
        source = str(path)
    store_heldout_bytes(vault, name, path.read_bytes(), source)
    return True


def load_heldout(vault: Path, task: Task) -> tuple[Example, ...]:
    """``task``'s held-out rows from ``vault``, checked against the task's labels.

    NotFoundError when the vault lacks them; TaskError naming every bad row
    (a label the task does not have; its out-of-scope label is one it has).
    """
    path = heldout_file(vault, task.name)
    if not path.is_file():
        raise NotFoundError(
            f"no held-out split for task {task.name}: {path} is missing "
            "(`ratchet init` stores it when it creates the home)"
        )
    manifest = task.manifest
    table = read_table(path, manifest.text_column, manifest.label_column, name=TEST)
    allowed = {*task.labels, task.oos_label}
    problems = list(table.problems) + [
        Problem(TEST, row.line, f"{row.label!r}: not a label of task {task.name}")
        for row in table.rows
        if row.label not in allowed
    ]
    if problems:
        raise TaskError(str(path), problems)
    return tuple(Example(row.text, row.label) for row in table.rows)


def heldout_examples(task: Task, vault: Path | None) -> tuple[Example, ...]:
    """The held-out rows the harness judges on: the vault's, or (no home: a project
    checkout) the task folder's own ``test.csv``."""
    if vault is None:
        return task.examples("heldout")
    return load_heldout(vault, task)


def heldout_rows(task: Task, vault: Path | None) -> int | None:
    """How many held-out rows ``task`` has (None when neither place holds them).

    From the vault's record: counting is no reason to open the split. A record
    without a count (a home whose ``init`` predates them) is counted from the split.
    """
    if task.test_rows is not None:
        return len(task.test_rows)
    if vault is None:
        return None
    recorded = recorded_rows(vault, task.name)
    if recorded is not None:
        return recorded
    try:
        return len(load_heldout(vault, task))
    except (NotFoundError, TaskError):
        return None
