"""Compare-and-swap under real concurrency and crash safety under SIGKILL.

Real processes against one staging document: on the filesystem backend they
race through flock and atomic renames, on S3 through a real S3-compatible
server's conditional writes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from ratchet.objects import FilesystemObjectStore, ObjectStore
from ratchet.state import STAGING_KEY, StateDocument, StateManager
from tests.conftest import PROJECT_ROOT
from tests.helpers.stores import describe

WORKERS = 8
INCREMENTS = 250


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.cas_worker", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_eight_processes_lose_no_update(store: ObjectStore) -> None:
    manager = StateManager(store)
    assert manager.read_staging().revision == 0
    description = json.dumps(describe(store))
    workers = [spawn("increment", description, str(INCREMENTS)) for _ in range(WORKERS)]
    for worker in workers:
        _, errors = worker.communicate(timeout=600)
        assert worker.returncode == 0, errors

    final = manager.read_staging()
    assert final.revision == WORKERS * INCREMENTS == 2000
    assert final.data["counter"] == 2000
    history = manager.staging_history()
    assert history == list(range(2001))  # every revision recorded exactly once
    assert [manager.staging_at(r).data.get("counter", 0) for r in (0, 1, 1000, 2000)] == [
        0,
        1,
        1000,
        2000,
    ]


def _write_forever(root: str, started: Event) -> None:
    manager = StateManager(FilesystemObjectStore(Path(root)))
    started.set()
    while True:
        manager.update_staging(lambda d: {**d, "counter": d.get("counter", 0) + 1}, actor="w")


@pytest.mark.slow
def test_sigkill_mid_write_never_leaves_a_torn_or_foreign_document(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "state")
    manager = StateManager(store)
    manager.read_staging()
    # fork: the writer starts with everything imported, so 50 kills take seconds
    context = multiprocessing.get_context("fork")
    rng = random.Random(7)
    path = store.root / STAGING_KEY
    for _ in range(50):
        started = context.Event()
        writer = context.Process(target=_write_forever, args=(str(store.root), started))
        writer.start()
        assert started.wait(30)
        writer.join(timeout=rng.uniform(0.0, 0.05))
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()

        raw = path.read_bytes()
        document = StateDocument.from_file_bytes(STAGING_KEY, raw)  # raises if torn
        assert document.data.get("counter", 0) == document.revision
        manager.repair()  # a kill between swap and history record is repaired here
        assert manager.staging_at(document.revision) == document

    final = manager.read_staging()
    assert final.revision > 50  # the writers did make progress between kills
    assert manager.staging_history() == list(range(final.revision + 1))
