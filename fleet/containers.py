"""Commit-scoped images: each release built as ``ratchet:<commit>`` and tagged with its semver.

Where a Docker engine answers, every release's build tree (the commit's files,
:class:`ratchet.builds.BuildStore`) is built with the project's Dockerfile
through the docker SDK, so a container set-up can move the Runner and Tuner
to exactly the code of the active release. Where none answers (these
machines), :meth:`ImageBuilder.engine` says so once in the log and every call
is a no-op: images are an addition to the one-machine builds, never required.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from ratchet.builds import BuildStore
from ratchet.vcs import Release, ReleaseStore

log = logging.getLogger(__name__)
REPOSITORY = "ratchet"


def image_tags(release: Release, repository: str = REPOSITORY) -> tuple[str, str]:
    """(``ratchet:<commit>``, ``ratchet:<semver>``) of a release."""
    return f"{repository}:{release.commit}", f"{repository}:{release.version}"


class ImageBuilder:
    """Builds release images through the docker SDK, if and only if an engine answers."""

    def __init__(
        self,
        builds: BuildStore,
        *,
        connect: Callable[[], Any] = lambda: docker.from_env(timeout=5),
        repository: str = REPOSITORY,
    ) -> None:
        self.builds = builds
        self.connect = connect
        self.repository = repository
        self._client: Any = None
        self._checked = False
        self.reason = ""  # why there is no engine, once checked

    def engine(self) -> Any:
        """A connected docker client, or None (logged once) when no engine answers."""
        if not self._checked:
            self._checked = True
            try:
                client = self.connect()
                client.ping()
                self._client = client
            except (DockerException, OSError) as exc:
                self.reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.info("no Docker engine (%s): commit-scoped images skipped", self.reason)
        return self._client

    def has_image(self, release: Release) -> bool:
        client = self.engine()
        if client is None:
            return False
        try:
            client.images.get(image_tags(release, self.repository)[0])
        except DockerException:
            return False
        return True

    def build(self, release: Release) -> str | None:
        """Build (or find) ``ratchet:<commit>`` and tag it ``ratchet:<semver>``; None: no engine."""
        client = self.engine()
        if client is None:
            return None
        by_commit, by_version = image_tags(release, self.repository)
        if not self.has_image(release):
            context: Path = self.builds.ensure(release.commit)
            log.info("building %s for %s from %s", by_commit, release.version, context)
            client.images.build(
                path=str(context),
                tag=by_commit,
                rm=True,
                labels={"ratchet.version": release.version, "ratchet.commit": release.commit},
            )
        client.images.get(by_commit).tag(self.repository, release.version)
        log.info("image %s tagged %s", by_commit, by_version)
        return by_commit


class ImageFollower:
    """Builds an image for every release, polling the tags (in ``ratchet up``)."""

    def __init__(
        self, builder: ImageBuilder, releases: ReleaseStore, interval_s: float = 10.0
    ) -> None:
        self.builder = builder
        self.releases = releases
        self.interval_s = interval_s
        self.built: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="images", daemon=True)

    def start(self) -> bool:
        """Start following when an engine answers; False (and no thread) otherwise."""
        if self.builder.engine() is None:
            return False
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def sync(self) -> list[str]:
        """Build the images of releases not built yet; the versions built now."""
        done = []
        for release in reversed(self.releases.releases()):  # oldest first
            if release.version in self.built:
                continue
            if self.builder.build(release) is None:
                break
            self.built.add(release.version)
            done.append(release.version)
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # a failed build is logged and retried; the fleet goes on
                log.exception("images: build failed")
            self._stop.wait(self.interval_s)
