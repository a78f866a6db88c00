"""Versions API benchmark: ``GET /versions`` over 1,000 releases against ``git tag -l``.

A workspace is initialised (v0.1.0) and given 999 more releases — a commit
and an annotated tag with JSON metadata each, written by one ``git
fast-import`` stream. The Versions API then runs as a real process and is
asked over keep-alive HTTP, warm; ``git tag -l`` (names only, no metadata)
runs on the same repository in the same run as the floor a client shelling
out to git would pay. Also: the first request after a new tag (the index
rebuild) and what tagging costs with ``git tag -a`` in a loop.

    python -m bench.versions_bench [--releases 1000] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ratchet.bootstrap import initialize
from ratchet.config import CommonSettings
from ratchet.vcs import ReleaseKind, Version
from services.versions.refs import RACY_WINDOW_NS
from tests.helpers.processes import running

from .stats import percentile

TARGET_P50_MS = 50.0
WHO = "Ratchet <ratchet@localhost>"


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True)
    return done.stdout.decode().strip()


def make_source(path: Path) -> Path:
    (path / "state").mkdir(parents=True)
    (path / "state" / "active.state.json").write_text('{"schema_version": 1, "data": {}}\n')
    (path / "README.md").write_text("bench project\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "initial")
    return path


def kind_of(n: int) -> ReleaseKind:
    return (
        ReleaseKind.MAJOR
        if n % 100 == 0
        else ReleaseKind.MINOR
        if n % 10 == 0
        else ReleaseKind.PATCH
    )


def release_stream(head: str, count: int, start: Version, when: int) -> tuple[bytes, str]:
    """A fast-import stream of ``count`` commits, each tagged as the next release."""

    def data(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n%s\n" % (len(raw), raw)

    out = bytearray()
    version, parent = start, str(start)
    for n in range(1, count + 1):
        kind = kind_of(n)
        version = version.bump(kind)
        author = "tuner" if kind is ReleaseKind.PATCH else "architect"
        stamp = f"{when + n} +0000"
        out += b"commit refs/heads/main\nmark :%d\n" % n
        out += f"committer {WHO} {stamp}\n".encode() + data(f"{version}: release {n}")
        out += (f"from {head}\n" if n == 1 else f"from :{n - 1}\n").encode()
        out += b"M 100644 inline RELEASES.txt\n" + data(f"{version}\n")
        metadata = {
            "kind": kind.value,
            "author": author,
            "parent": parent,
            "reason": f"bench release {n}",
            "state_hash": f"sha256:{n:064x}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + n)),
        }
        out += f"tag {version}\nfrom :{n}\ntagger {WHO} {stamp}\n".encode()
        out += data(json.dumps(metadata, sort_keys=True))
        parent = str(version)
    return bytes(out), parent


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 99)


def timed(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(releases: int, requests: int) -> int:
    with tempfile.TemporaryDirectory(prefix="ratchet-versions-bench-") as tmp:
        root = Path(tmp)
        settings = CommonSettings(home=root / "home", project_root=make_source(root / "source"))
        initialize(settings)
        workspace = settings.workspace_path

        started = time.perf_counter()
        stream, newest = release_stream(
            git(workspace, "rev-parse", "HEAD"),
            releases - 1,
            Version.parse("v0.1.0"),
            1_700_000_000,
        )
        git(workspace, "fast-import", "--quiet", stdin=stream)
        git(workspace, "reset", "--hard", "-q", "main")
        import_s = time.perf_counter() - started
        tags = len(git(workspace, "tag", "-l").splitlines())
        assert tags == releases, f"expected {releases} tags, found {tags}"

        loop: list[float] = []
        for i in range(20):  # what the same tags would cost one `git tag -a` at a time
            started = time.perf_counter()
            git(workspace, "tag", "-a", f"loop-{i}", "-m", "{}", "HEAD")
            loop.append((time.perf_counter() - started) * 1000)
        for i in range(20):
            git(workspace, "tag", "-d", f"loop-{i}")

        env = {"RATCHET_HOME": str(settings.home_path), "RATCHET_VERSIONS_PORT": "0"}
        with (
            running("services.versions", env) as service,
            httpx.Client(base_url=service.url) as http,
        ):

            def get(path: str) -> Callable[[], object]:
                def call() -> object:
                    response = http.get(path)
                    assert response.status_code == 200, response.text
                    return response

                return call

            # Tags written less than the racy window ago are rescanned on every request
            # (see services/versions/refs.py): wait it out, then warm up.
            time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)
            page = http.get("/versions").json()
            assert page["total"] == releases and page["versions"][0]["version"] == newest
            timed(get("/versions"), 100)

            rows: list[tuple[str, list[float]]] = [
                ("GET /versions (50, newest)", timed(get("/versions"), requests)),
                ("GET /versions?limit=500", timed(get("/versions?limit=500"), requests // 4)),
                (
                    "GET /versions?kind=minor&cursor=v5.0.0",
                    timed(get("/versions?kind=minor&cursor=v5.0.0"), requests // 4),
                ),
                (f"GET /versions/{newest}", timed(get(f"/versions/{newest}"), requests // 4)),
                ("git tag -l", timed(lambda: git(workspace, "tag", "-l"), requests // 4)),
                (
                    "git for-each-ref (an index rebuild's scan)",
                    timed(
                        lambda: git(
                            workspace,
                            "for-each-ref",
                            "refs/tags/v*",
                            "--format=%(refname)%(contents)",
                        ),
                        requests // 10,
                    ),
                ),
            ]
            rebuild = []
            for i in range(10):  # the first request after a new tag rebuilds the index
                version = Version.parse(newest).bump(ReleaseKind.PATCH)
                body = json.dumps({"kind": "patch", "author": "tuner", "parent": newest})
                git(workspace, "tag", "-a", str(version), "-m", body, "HEAD")
                newest = str(version)
                started = time.perf_counter()
                first = http.get("/versions").json()
                rebuild.append((time.perf_counter() - started) * 1000)
                assert first["versions"][0]["version"] == newest, f"tag {i} not seen"
            rows.append(("GET /versions, first after a new tag", rebuild))

    width = max(len(name) for name, _ in rows)
    print(f"\n{releases} releases; {requests} warm requests for the headline row")
    print(f"{'what':<{width}}  {'p50 ms':>8}  {'p99 ms':>8}  {'n':>5}")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"{name:<{width}}  {p50:>8.2f}  {p99:>8.2f}  {len(samples):>5}")
    api_p50, api_p99 = percentiles(rows[0][1])
    git_p50, _ = percentiles(rows[4][1])
    tag_p50, _ = percentiles(loop)
    print(
        f"\nmaking the tags: fast-import {releases - 1} commits+tags in {import_s:.2f} s; "
        f"`git tag -a` one at a time ~{tag_p50:.1f} ms each "
        f"(~{tag_p50 * (releases - 1) / 1000:.1f} s for the same)"
    )
    verdict = "PASS" if api_p50 <= TARGET_P50_MS else "FAIL"
    print(
        f"GET /versions p50 {api_p50:.2f} ms, p99 {api_p99:.2f} ms; "
        f"git tag -l p50 {git_p50:.2f} ms ({git_p50 / api_p50:.1f}x the API); "
        f"target p50 <= {TARGET_P50_MS:.0f} ms: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    sys.exit(main(args.releases, args.requests))
