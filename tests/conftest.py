"""Fixtures shared by every test: temporary homes, a source repository, an S3 server."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ratchet.config import Backend, CommonSettings
from ratchet.objects import FilesystemObjectStore, ObjectStore, S3ObjectStore
from ratchet.objects.s3 import make_client
from ratchet.vcs import is_repository
from tests.helpers import leaks, machine_share
from tests.helpers.s3server import S3Server, install_s3_environment

if TYPE_CHECKING:  # imported by the fixture itself: psycopg only for runs that use it
    from tests.helpers.postgres import PostgresServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Releases go live at once unless a test asks for a rollout (below).

    Model caches that are pure functions of their inputs (the minilm template's
    embeddings) go to pytest's cache: paid once per machine, shared by xdist workers
    and by the processes tests start (they inherit the variable).

    The fast tier runs a candidate's copy of this suite with the cache in a scratch
    directory of its own (``ratchet/ci/unit_tests.py``); without a cache provider
    (``-p no:cacheprovider``) the models keep their default cache.
    """
    cache = getattr(config, "cache", None)
    if cache is not None:
        embeddings = cache.mkdir("ratchet-embeddings")
        os.environ.setdefault("RATCHET_EMBEDDING_CACHE", str(embeddings))
    # A release reaches traffic at once in the tests of every other feature, as the
    # issue that made rollouts the default asks; the rollout tests (tests/core/
    # test_rollout_*.py, the Runner's canary split, the real-process rollout test)
    # choose progressive delivery themselves. Processes the tests start inherit it.
    os.environ.setdefault("RATCHET_ROLLOUT", "immediate")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the Postgres server is marked ``postgres`` (as the Postgres
    side of ``database_url`` is): the sandboxed fast tier leaves them out."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


LEFTOVER_GRACE_S = 10.0  # for processes still stopping when the test ends
_spawned = threading.Event()  # a process was started since the last test began


def _notice_spawns(event: str, args: tuple[Any, ...]) -> None:
    if event in leaks.SPAWN_EVENTS:
        _spawned.set()


sys.addaudithook(_notice_spawns)  # once per process: audit hooks cannot be removed


@pytest.fixture(autouse=True)
def no_leftover_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a process running, naming each (and kill them).

    After the test (this fixture is set up first, so torn down last): every
    process whose cwd, command line or environment names the test's tmp_path,
    or whose environment carries the test's token, is given a few seconds to
    end, then SIGKILLed and reported. The /proc scan runs only for a test that
    used tmp_path or started a process (an audit hook notices spawns). Under
    xdist each worker checks its own tests: paths and tokens are per test.
    """
    paths = [request.getfixturevalue("tmp_path")] if "tmp_path" in request.fixturenames else []
    token = uuid.uuid4().hex
    previous = os.environ.get(leaks.TOKEN_VAR)
    os.environ[leaks.TOKEN_VAR] = token
    _spawned.clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(leaks.TOKEN_VAR, None)
        else:
            os.environ[leaks.TOKEN_VAR] = previous
    if not paths and not _spawned.is_set():
        return
    left = leaks.settle(leaks.Matcher(paths, token), LEFTOVER_GRACE_S)
    if left:
        listed = "\n".join(f"  {leftover}" for leftover in left)
        pytest.fail(f"the test left {len(left)} process(es) running (now killed):\n{listed}")


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes_in_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session (of each xdist worker): no process may still refer
    to the run's temporary directory, e.g. one a module-scoped fixture started."""
    yield
    matcher = leaks.Matcher([tmp_path_factory.getbasetemp()], None, "the run's basetemp")
    left = leaks.settle(matcher, LEFTOVER_GRACE_S)
    if left:
        listed = "\n".join(f"  {leftover}" for leftover in left)
        pytest.fail(f"the run left {len(left)} process(es) running (now killed):\n{listed}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Under xdist, a test marked ``alone`` runs with no test on another worker.

    For the tests that judge a full tier's p95 against the latency budget: beside
    another test on a 2-core machine, a release's p95 (21 ms idle) rises over the
    50 ms budget. Outermost of the protocol's wrappers, so the wait for the lock is
    not counted by pytest-timeout, and the test's fixtures (its leak check included)
    run inside the lock.
    """
    worker = getattr(item.config, "workerinput", None)
    # Only an xdist worker itself: not one process alone, and not a pytest that a test
    # started (a candidate's suite in the fast tier), which inherits the worker's
    # environment and would wait forever on the lock its `alone` parent holds.
    if worker is None:
        return (yield)
    root = Path(tempfile.gettempdir()) / f"ratchet-tests-{worker['testrunuid']}"
    root.mkdir(exist_ok=True)
    alone = item.get_closest_marker("alone") is not None
    with (machine_share.exclusive if alone else machine_share.shared)(root):
        return (yield)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cpu_heavy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run alone among the tests that use this fixture, across every xdist worker.

    For tests that saturate both cores (embedding a training set), so that two never
    run at once; tests that judge latency are marked ``alone`` instead (see
    :func:`pytest_runtest_protocol`). A file lock in the run's shared temp root, not
    xdist's loadgroup, which can leave tests silently unrun. Such tests need a
    timeout that covers waiting for another.
    """
    root = tmp_path_factory.getbasetemp().parent  # shared by the workers of one run
    with (root / "cpu_heavy.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def project_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project as a git checkout to clone workspaces from: this checkout, or, when the
    suite runs from a plain tree (a release's build, as `ratchet eval --tier fast` runs
    the candidate's tests, or a worktree whose repository the sandbox hides), a commit of
    that tree made aside; the tree is not written."""
    if is_repository(PROJECT_ROOT):
        return PROJECT_ROOT
    root = tmp_path_factory.mktemp("checkout")
    tree = ["--git-dir", str(root / "tree.git"), "--work-tree", str(PROJECT_ROOT)]
    git(root, *tree, "init", "-q", "-b", "main")
    git(root, *tree, "add", "-A")
    git(root, *tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tree")
    git(root, "clone", "-q", str(root / "tree.git"), str(root / "project"))
    return root / "project"


@pytest.fixture
def source_repo(tmp_path: Path) -> Path:
    """A small project checkout to clone workspaces from (fast, isolated)."""
    repo = tmp_path / "source"
    (repo / "state").mkdir(parents=True)
    (repo / "state" / ".gitignore").write_text((PROJECT_ROOT / "state" / ".gitignore").read_text())
    (repo / "state" / "active.state.json").write_text(
        (PROJECT_ROOT / "state" / "active.state.json").read_text()
    )
    (repo / "README.md").write_text("test project\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "initial")
    return repo


@pytest.fixture
def settings(tmp_path: Path, source_repo: Path) -> CommonSettings:
    return CommonSettings(home=tmp_path / "home", project_root=source_repo)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    install_s3_environment()
    server = S3Server()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_settings(tmp_path: Path, source_repo: Path, s3_server: S3Server) -> CommonSettings:
    """Settings on the S3 backend with a bucket of the test's own."""
    settings = CommonSettings(
        home=tmp_path / "home",
        project_root=source_repo,
        backend=Backend.S3,
        s3_endpoint_url=s3_server.endpoint,
        s3_bucket=f"t-{uuid.uuid4().hex[:20]}",
    )
    make_client(s3_server.endpoint, "us-east-1").create_bucket(Bucket=settings.s3_bucket)
    return settings


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (tests/helpers/postgres.py), one per xdist worker,
    started by the first test that asks for it: runs without such a test pay nothing
    (not even psycopg's import, ~0.1-0.3 s)."""
    from tests.helpers.postgres import default_base, running_postgres

    with running_postgres(default_base()) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database of the test's own (``postgresql://…``), dropped after it with any
    connection the test left open."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(autouse=True)
def suite_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """``make test-postgres``: the suite with ``RATCHET_DATABASE_URL`` set, each test on a
    fresh Postgres database (settings built in tests and the processes they start read
    it). Without ``RATCHET_TEST_DATABASE=postgres``, every store keeps its SQLite file."""
    if os.environ.get("RATCHET_TEST_DATABASE") != "postgres":
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setenv("RATCHET_DATABASE_URL", request.getfixturevalue("postgres_url"))
    try:
        yield
    finally:
        patch.undo()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """A store test's ``RATCHET_DATABASE_URL``, once per engine: unset (each store's
    SQLite file) and a fresh database on this run's Postgres server."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """An empty object store on each backend."""
    if request.param == "filesystem":
        return FilesystemObjectStore(tmp_path / "objects")
    server: S3Server = request.getfixturevalue("s3_server")
    s3 = S3ObjectStore(make_client(server.endpoint, "us-east-1"), f"t-{uuid.uuid4().hex[:20]}")
    s3.ensure_bucket()
    return s3
