"""The core knows no particular task: it reads the one its code root serves.

Nothing under the core library, the Tuner, the Architect or the Versions API
(source and static files) names a built-in task or counts its labels: a
home serving another task would otherwise be told, validated or prompted with
BANKING77's. The Runner is Architect-editable and the tasks themselves live
under ``tasks/``; neither is scanned.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import PROJECT_ROOT

SCANNED = ("ratchet", "services/tuner", "services/architect", "services/versions")
NAMES = re.compile(r"banking\s*77|hwu\s*64", re.IGNORECASE)
# "77 intents", "64 labels", "77 BANKING77 intents", "one of 77": a count of a task's labels.
COUNTS = re.compile(
    r"\b\d+\s+(?:[a-z][a-z0-9_-]+\s+)?(?:intents?|labels?)\b|\bone of (?:the )?\d+\b",
    re.IGNORECASE,
)


def scanned_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def findings(path: Path) -> list[str]:
    """``file:line: text`` for every line of ``path`` that names a task or a label count."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # an image or other binary static file
        return []
    where = path.relative_to(PROJECT_ROOT)
    return [
        f"{where}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if NAMES.search(line) or COUNTS.search(line)
    ]


def test_the_patterns_catch_what_they_are_for() -> None:
    caught = [
        "use one of the 77 BANKING77 intents",
        "(BANKING77, 77 intents)",
        "one of 64 labels",
        "routes to one of 77",
        "the hwu64 task",
    ]
    missed = ["at most ~6 x labels", "use one of the task's intents", "top 3 alternatives"]
    assert all(NAMES.search(t) or COUNTS.search(t) for t in caught)
    assert not any(NAMES.search(t) or COUNTS.search(t) for t in missed)


def test_the_core_names_no_task_and_no_label_count() -> None:
    files = scanned_files()
    assert len(files) > 100, "the scan found too few files: did the layout move?"
    found = [hit for path in files for hit in findings(path)]
    assert found == [], "the core must read the task, not name it:\n" + "\n".join(found)
