"""What one candidate process may see and use, and the bubblewrap command that holds it.

Deny by default: the process starts in an empty mount namespace and gets
only what is listed here, read-only unless said otherwise:

- its tree (``code_root``), with ``.git`` hidden: a worktree's ``.git`` names
  the workspace's repository, whose objects are every release's files;
- its volume (:mod:`ratchet.sandbox.volume`), read-write: home, temp, caches;
- the Python runtime (the interpreter's prefix and the virtual environment's)
  and the system's libraries (``/usr``, a few files of ``/etc``);
- the machine's cache of trained artifacts, read-only;
- the harness's input files named in ``inputs``;
- the directories named in ``writable`` (a candidate service's home), read-write.

No network (a network namespace with only its own loopback), no other
process visible (a pid namespace), no capabilities, and an environment built
from nothing: no setting or secret of the harness's process leaks in. The
same environment is given when no sandbox exists, so a candidate cannot tell
how it is run from what it is given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ratchet.objects.artifacts import CACHE_ENV, machine_cache_root
from ratchet.sandbox import volume as volumes

DEFAULT_MAX_PROCESSES = 256  # threads count too: a Runner holds a few dozen
DEFAULT_DISK_MB = 2048
TMP_MB = 64  # /tmp inside: a small memory file system; TMPDIR points at the volume
LOCALE = "C.UTF-8"

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_ETC_FILES = (
    "passwd",
    "group",
    "hosts",
    "nsswitch.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "ssl",
    "ca-certificates",
    "alternatives",
    "os-release",
    "mime.types",
)


@dataclass(frozen=True)
class Confinement:
    """One candidate process's view of the machine and its limits."""

    code_root: Path
    volume: Path
    inputs: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    max_processes: int = DEFAULT_MAX_PROCESSES
    disk_mb: int = DEFAULT_DISK_MB

    @property
    def written(self) -> tuple[Path, ...]:
        """Where the process may write: what the disk quota is held over."""
        return (self.volume, *self.writable)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process's whole environment: built, not inherited."""
        runtime_bin = str(Path(sys.executable).parent)
        cache_layers = [str(self.volume / "cache"), str(machine_cache_root())]
        env = {
            "PATH": os.pathsep.join([runtime_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.volume / "home"),
            "TMPDIR": str(self.volume / "tmp"),
            "LANG": LOCALE,
            "LC_ALL": LOCALE,
            "PYTHONPATH": str(self.code_root),
            "PYTHONDONTWRITEBYTECODE": "1",  # leave the candidate's tree as it was
            # The candidate's own cache first (written), the machine's after it (read).
            CACHE_ENV: os.pathsep.join(cache_layers),
        }
        env.update(extra or {})
        return env

    def command(self, bwrap: str, args: Sequence[str]) -> list[str]:
        """``args`` wrapped in bubblewrap with this confinement's mounts and namespaces."""
        command = [bwrap, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent"]
        # The host's name is kept (no --hostname): nothing here should tell a
        # candidate that it is being judged rather than serving.
        command += ["--proc", "/proc", "--dev", "/dev"]
        size = str(TMP_MB * 1024 * 1024)  # memory file systems: small, sized
        command += ["--size", size, "--tmpfs", "/dev/shm", "--size", size, "--tmpfs", "/tmp"]
        command += _system_mounts()
        for prefix in _runtime_paths():
            command += ["--ro-bind-try", prefix, prefix]
        cache = machine_cache_root()
        command += ["--ro-bind-try", str(cache), str(cache)]
        command += ["--ro-bind", str(self.code_root), str(self.code_root)]
        command += _hide_git(self.code_root)
        command += ["--bind", str(self.volume), str(self.volume)]
        for given in self.inputs:
            command += ["--ro-bind", str(given), str(given)]
        for given in self.writable:
            command += ["--bind", str(given), str(given)]
        # Last: the root and /dev (memory file systems bubblewrap builds the view on)
        # read-only, so the volume and the sized /tmp are all it can fill.
        command += ["--remount-ro", "/dev", "--remount-ro", "/"]
        command += ["--chdir", str(self.code_root), "--", *args]
        return command


def _system_mounts() -> list[str]:
    """The system's directories, symlinks kept as symlinks (merged /usr)."""
    mounts: list[str] = []
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            mounts += ["--symlink", str(path.readlink()), name]
        elif path.is_dir():
            mounts += ["--ro-bind", name, name]
    for name in _ETC_FILES:
        mounts += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return mounts


def _runtime_paths() -> list[str]:
    """The interpreter's installation and the environment it runs in (a venv's packages)."""
    paths = {sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parents[1])}
    return sorted(p for p in paths if not p.startswith("/usr"))


def _hide_git(code_root: Path) -> list[str]:
    git = code_root / ".git"
    if git.is_file():  # a worktree: a pointer to the workspace's repository
        return ["--ro-bind", "/dev/null", str(git)]
    if git.is_dir():
        return ["--tmpfs", str(git), "--remount-ro", str(git)]
    return []


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder)


def confine(
    code_root: Path,
    inputs: Sequence[Path] = (),
    *,
    writable: Sequence[Path] = (),
    max_processes: int = DEFAULT_MAX_PROCESSES,
    disk_mb: int = DEFAULT_DISK_MB,
) -> Confinement:
    """The confinement of a process of the candidate whose tree is ``code_root``."""
    root = code_root.resolve()
    volume = volumes.ensure(root)
    return Confinement(
        root,
        volume,
        tuple(Path(p).resolve() for p in inputs),
        tuple(Path(p).resolve() for p in writable if not _inside(Path(p), volume)),
        max_processes,
        disk_mb,
    )
