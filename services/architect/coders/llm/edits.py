"""SEARCH/REPLACE edit blocks (aider's format): parsed strictly, applied all-or-nothing.

A block is the file's path alone on a line, then::

    <<<<<<< SEARCH
    lines copied exactly from the file
    =======
    the lines that replace them
    >>>>>>> REPLACE

An empty SEARCH creates a new file. Every block is checked before anything is
written — the path inside the tree and within the Architect's editable paths,
the SEARCH text occurring exactly once in the file as the earlier blocks
leave it, every Python and JSON file it touches still parsing — so a bad
answer changes nothing and can be retried as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ratchet.atomic import atomic_write_bytes
from ratchet.errors import PolicyError
from ratchet.policy import check_paths

SEARCH = "<<<<<<< SEARCH"
DIVIDER = "======="
REPLACE = ">>>>>>> REPLACE"
_FENCE = "```"


class EditError(ValueError):
    """The answer's edits are malformed or do not apply (the message is sent back)."""


@dataclass(frozen=True, slots=True)
class EditBlock:
    path: str
    search: str
    replace: str


def _path_before(lines: list[str], start: int) -> str:
    """The path of the block starting at ``start``: the nearest line above it that is
    neither blank nor a code fence, holding nothing but the path."""
    for line in reversed(lines[:start]):
        text = line.strip()
        if not text or text.startswith(_FENCE):
            continue
        if text not in (DIVIDER, REPLACE) and not any(c.isspace() for c in text):
            return text.strip("`*")
        break
    raise EditError(
        f"line {start + 1}: a {SEARCH} block must follow a line holding only the file's path"
    )


def parse_edits(answer: str) -> list[EditBlock]:
    """Every edit block of ``answer``, in order; EditError naming the first defect."""
    lines = answer.splitlines()
    blocks: list[EditBlock] = []
    index = 0
    while index < len(lines):
        marker = lines[index].strip()
        if marker in (DIVIDER, REPLACE):
            raise EditError(f"line {index + 1}: {marker!r} outside a {SEARCH} block")
        if marker != SEARCH:
            index += 1
            continue
        path = _path_before(lines, index)
        start = index
        search: list[str] = []
        replace: list[str] = []
        target = search
        index += 1
        while True:
            if index >= len(lines):
                expected = DIVIDER if target is search else REPLACE
                raise EditError(
                    f"the block for {path} starting at line {start + 1} ends without {expected!r}"
                )
            text = lines[index]
            if text.strip() == SEARCH:
                raise EditError(f"line {index + 1}: a new {SEARCH} inside the block for {path}")
            if text.strip() == DIVIDER and target is search:
                target = replace
            elif text.strip() == DIVIDER:
                raise EditError(f"line {index + 1}: a second {DIVIDER!r} in the block for {path}")
            elif text.strip() == REPLACE:
                if target is search:
                    raise EditError(
                        f"line {index + 1}: {REPLACE!r} before {DIVIDER!r} in the block for {path}"
                    )
                break
            else:
                target.append(text)
            index += 1
        blocks.append(EditBlock(path, _joined(search), _joined(replace)))
        index += 1
    if not blocks:
        raise EditError(
            f"no edit blocks found: answer with one or more {SEARCH} / {DIVIDER} / {REPLACE} "
            "blocks, each after a line holding the file's path"
        )
    return blocks


def _joined(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _checked_path(tree: Path, path: str) -> Path:
    if path.startswith("/") or "\\" in path or ".." in path.split("/"):
        raise EditError(f"{path}: paths are relative to the repository root, without '..'")
    try:
        check_paths("architect", [path])
    except PolicyError as exc:
        raise EditError(str(exc)) from None
    target = (tree / path).resolve()
    if not target.is_relative_to(tree.resolve()):  # a symlink out of the tree
        raise EditError(f"{path} resolves outside the repository")
    if target.is_dir():
        raise EditError(f"{path} is a directory")
    return target


def _missing_hint(content: str, search: str) -> str:
    squeeze = " ".join
    if squeeze(search.split()) in squeeze(content.split()):
        return " (it does occur with different whitespace or indentation: copy it exactly)"
    first = next((line for line in search.splitlines() if line.strip()), "")
    if first and first in content:
        return f" (its first line {first.strip()!r} occurs, but the lines after it differ)"
    return ""


def _check_syntax(path: str, content: str) -> None:
    """A Python or JSON file the edits leave unparsable is refused here, where the model
    can still fix it, rather than by a CI tier later."""
    try:
        if path.endswith(".py"):
            compile(content, path, "exec", dont_inherit=True)
        elif path.endswith(".json"):
            json.loads(content)
    except SyntaxError as exc:
        raise EditError(
            f"the edits leave {path} invalid Python: {exc.msg} (line {exc.lineno})"
        ) from None
    except ValueError as exc:
        raise EditError(f"the edits leave {path} invalid JSON: {exc}") from None


def apply_edits(tree: Path, blocks: list[EditBlock]) -> list[str]:
    """Apply ``blocks`` to ``tree`` all-or-nothing; the changed paths, sorted."""
    contents: dict[str, str] = {}
    for number, block in enumerate(blocks, 1):
        where = f"block {number} ({block.path})"
        target = _checked_path(tree, block.path)
        current = contents.get(block.path)
        if current is None and target.is_file():
            current = target.read_text()
        if not block.search:
            if current is not None:
                raise EditError(
                    f"{where}: an empty SEARCH creates a new file, but {block.path} exists: "
                    "copy the lines to replace into SEARCH"
                )
            contents[block.path] = block.replace
            continue
        if current is None:
            raise EditError(f"{where}: {block.path} does not exist (use an empty SEARCH to create)")
        found = current.count(block.search)
        if found != 1:
            hint = (
                _missing_hint(current, block.search)
                if found == 0
                else ": add lines around it so it matches one place only"
            )
            raise EditError(f"{where}: the SEARCH text occurs {found} times (expected once){hint}")
        contents[block.path] = current.replace(block.search, block.replace, 1)
    for path, content in contents.items():
        _check_syntax(path, content)
    for path, content in contents.items():  # every block checked: now write
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, content.encode())
    return sorted(contents)
