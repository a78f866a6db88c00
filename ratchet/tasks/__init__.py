"""Tasks: the user's labelled data, checked, and the task each code root serves."""

from ratchet.tasks.check import Inspection, inspect
from ratchet.tasks.manifest import MANIFEST, IntentManifest
from ratchet.tasks.problems import Problem, TaskError
from ratchet.tasks.task import (
    ACTIVE_FILE,
    TASKS_DIR,
    Example,
    Task,
    active_name,
    active_task,
    builtin_names,
    find_task,
    load_task,
)

__all__ = [
    "ACTIVE_FILE",
    "MANIFEST",
    "TASKS_DIR",
    "Example",
    "Inspection",
    "IntentManifest",
    "Problem",
    "Task",
    "TaskError",
    "active_name",
    "active_task",
    "builtin_names",
    "find_task",
    "inspect",
    "load_task",
]
