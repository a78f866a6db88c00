"""A commit's build as one self-verifying archive, for machines whose workspace lacks it.

Why an archive in the object store rather than a shared git remote: every
machine of a fleet already shares the object store (the State Manager's pointer
lives there on S3), so a Runner or Tuner of another home needs no new service,
credential or network path, and the archive is written *before* the tag and so
before the pointer can name the commit. A remote would add a second shared
system whose pushes (branch and tags) are not atomic with the pointer move, and
would carry the workspace's whole history to every serving machine.

The archive is ``builds/{commit}.tar.gz``: the ``git archive`` of the commit
(without :data:`~ratchet.vcs.workspace.WITHHELD`), plus two members under
``.ratchet/``: the raw commit object and the git entries of any withheld file.
It is checked against the commit id alone, so the store need not be trusted:
the commit object must hash to the id, and the tree it names must equal the
git tree computed from the archive's files (plus the withheld entries). A
truncated, altered or substituted archive is refused. Checking also yields
the id of every file and folder, which is what ``BuildStore.code_key`` needs
where git cannot answer.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import tarfile
import zlib
from collections import defaultdict
from pathlib import Path

from ratchet.errors import ConfigError, CorruptDocumentError
from ratchet.vcs import open_repo
from ratchet.vcs.workspace import WITHHELD

_META = ".ratchet/"
_COMMIT = _META + "commit"
_WITHHELD = _META + "withheld"
_FILE, _EXECUTABLE, _LINK, _TREE = "100644", "100755", "120000", "40000"


def archive_key(commit: str) -> str:
    """The object key of ``commit``'s archive (one per commit, written once)."""
    return f"builds/{commit}.tar.gz"


def tree_archive(workspace: Path, commit: str) -> bytes:
    """The ``git archive`` (tar) of ``commit``'s tree, held-out splits left out."""
    with open_repo(workspace) as repo:
        data: bytes = repo.git.archive(
            commit, "--", ".", f":(exclude,glob){WITHHELD}", format="tar", stdout_as_string=False
        )
    return data


def pack(workspace: Path, commit: str) -> bytes:
    """The archive of ``commit`` (a full id in ``workspace``), checked before it is returned."""
    with open_repo(workspace) as repo:
        raw: bytes = repo.git.cat_file(
            "commit", commit, stdout_as_string=False, strip_newline_in_stdout=False
        )
        listing = repo.git.ls_tree("-r", "--full-tree", commit)
    withheld = "".join(
        f"{line}\n"
        for line in listing.splitlines()
        if _is_withheld(line.partition("\t")[2])  # "mode type id\tpath"
    )
    buffer = io.BytesIO(tree_archive(workspace, commit))
    with tarfile.open(fileobj=buffer, mode="a") as tar:
        for name, body in ((_COMMIT, raw), (_WITHHELD, withheld.encode())):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(body), 0o644, 0  # reproducible bytes
            tar.addfile(info, io.BytesIO(body))
    data = gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)
    try:
        verify(data, commit)
    except CorruptDocumentError as exc:  # never publish what other homes would refuse
        raise ConfigError(
            f"cannot publish the build of {commit}: {exc}; a build must be the commit's "
            "exact tree (no export-ignore or export-subst in .gitattributes, no .ratchet/ "
            "folder in the tree)"
        ) from None
    return data


def verify(data: bytes, commit: str) -> dict[str, str]:
    """The git id of every file and folder of the archive (``""``: the root tree), once
    the archive is proven to hold ``commit``'s tree; CorruptDocumentError otherwise."""
    sha256 = len(commit) == 64  # a SHA-256 repository's ids
    try:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
            members = {m.name: m for m in tar.getmembers()}
            files = {
                name: _entry(tar, member, sha256)
                for name, member in members.items()
                if not name.startswith(_META) and (member.isfile() or member.issym())
            }
            raw = _read(tar, members, _COMMIT)
            withheld = _read(tar, members, _WITHHELD).decode()
    except (OSError, EOFError, tarfile.TarError, zlib.error, KeyError, UnicodeDecodeError) as exc:
        raise CorruptDocumentError(f"the build archive of {commit} is unreadable: {exc}") from None
    if _git_id(b"commit", raw, sha256).hex() != commit:
        raise CorruptDocumentError(f"the build archive of {commit} holds another commit")
    for line in withheld.splitlines():
        mode_type_id, _, path = line.partition("\t")
        mode, _, object_id = mode_type_id.split(" ")
        files[path] = (mode, bytes.fromhex(object_id))
    ids = _tree_ids(files, sha256)
    expected = raw.split(b"\n", 1)[0].removeprefix(b"tree ").decode()
    if ids[""] != expected:
        raise CorruptDocumentError(
            f"the build archive of {commit} does not hold its tree ({ids[''][:12]}, "
            f"the commit names {expected[:12]}): refused"
        )
    return ids


def extract(data: bytes, target: Path) -> None:
    """Write the archive's files (not its ``.ratchet/`` members) under ``target``."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = [m for m in tar.getmembers() if not m.name.startswith(_META)]
        tar.extractall(target, members=members, filter="data")


def _is_withheld(path: str) -> bool:
    # fnmatch's `*` also crosses `/`: the depth is checked apart (as git's glob would).
    return fnmatch.fnmatchcase(path, WITHHELD) and path.count("/") == WITHHELD.count("/")


def _git_id(kind: bytes, body: bytes, sha256: bool) -> bytes:
    """The git object id of ``body`` (git's two object formats: SHA-1 and SHA-256)."""
    header = b"%s %d\0" % (kind, len(body))
    return (hashlib.sha256 if sha256 else hashlib.sha1)(header + body).digest()


def _read(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes:
    handle = tar.extractfile(members[name])
    if handle is None:
        raise KeyError(name)
    return handle.read()


def _entry(tar: tarfile.TarFile, member: tarfile.TarInfo, sha256: bool) -> tuple[str, bytes]:
    """A file's git mode and blob id (a link's blob is its target)."""
    if member.issym():
        mode, body = _LINK, member.linkname.encode()
    else:
        handle = tar.extractfile(member)
        body = handle.read() if handle is not None else b""
        mode = _EXECUTABLE if member.mode & 0o100 else _FILE
    return mode, _git_id(b"blob", body, sha256)


def _tree_ids(files: dict[str, tuple[str, bytes]], sha256: bool) -> dict[str, str]:
    """The id of every file and every folder (git's tree objects) from the files' modes
    and blob ids; ``""`` is the root."""
    children: dict[str, dict[str, tuple[str, bytes]]] = defaultdict(dict)
    for path, entry in files.items():
        parent, _, name = path.rpartition("/")
        children[parent][name] = entry
        while parent and parent.rpartition("/")[2] not in children[parent.rpartition("/")[0]]:
            above, _, folder = parent.rpartition("/")
            children[above][folder] = (_TREE, b"")  # its id is known once its files are
            parent = above
    ids = {path: entry[1].hex() for path, entry in files.items()}
    for folder in sorted(children, key=lambda p: p.count("/") + bool(p), reverse=True):
        entries = children[folder]
        for name, (mode, _) in entries.items():
            if mode == _TREE:
                entries[name] = (_TREE, bytes.fromhex(ids[f"{folder}/{name}" if folder else name]))
        # git orders a folder's entries by name, a subfolder's name as if it ended in "/"
        order = sorted(
            entries, key=lambda n: n.encode() + (b"/" if entries[n][0] == _TREE else b"")
        )
        body = b"".join(
            b"%s %s\0%s" % (entries[n][0].encode(), n.encode(), entries[n][1]) for n in order
        )
        ids[folder] = _git_id(b"tree", body, sha256).hex()
    return ids
