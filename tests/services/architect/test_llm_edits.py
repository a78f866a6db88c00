"""SEARCH/REPLACE edit blocks: strict parsing, all-or-nothing application."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.architect.coders.llm import EditBlock, EditError, apply_edits, parse_edits


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "services/runner/agent").mkdir(parents=True)
    (root / "services/runner/agent/router.py").write_text("a = 1\nb = 2\nc = 3\nb = 2\n")
    (root / "state").mkdir()
    (root / "state/active.state.json").write_text('{\n  "k": 1\n}\n')
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_blocks_parse_with_prose_fences_and_new_files() -> None:
    answer = (
        "Here is the change.\n\n"
        + block("services/runner/agent/router.py", "a = 1\n", "a = 10\n")
        + "\nAnd a new module:\n\n```python\n"
        + block("services/runner/agent/extra.py", "", "X = 1\n\nY = 2\n")
        + "```\n"
    )
    assert parse_edits(answer) == [
        EditBlock("services/runner/agent/router.py", "a = 1\n", "a = 10\n"),
        EditBlock("services/runner/agent/extra.py", "", "X = 1\n\nY = 2\n"),
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("I changed nothing.", "no edit blocks found"),
        ("x.py\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n", "'>>>>>>> REPLACE' before '======='"),
        ("x.py\n<<<<<<< SEARCH\na\n=======\nb\n", "ends without '>>>>>>> REPLACE'"),
        ("x.py\n<<<<<<< SEARCH\na\n", "ends without '======='"),
        ("x.py\n<<<<<<< SEARCH\na\n=======\nb\n=======\nc\n>>>>>>> REPLACE", "a second"),
        ("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE", "must follow a line holding only"),
        ("In x.py do:\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE", "must follow a line"),
        ("x.py\n=======\n", "'=======' outside a <<<<<<< SEARCH block"),
        ("x.py\n<<<<<<< SEARCH\na\n<<<<<<< SEARCH\n", "a new <<<<<<< SEARCH inside"),
        (
            block("x.py", "a\n", "b\n") + "<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n",
            "line 7: a <<<<<<< SEARCH block must follow",  # the path is not repeated
        ),
    ],
)
def test_malformed_answers_are_refused_with_the_defect(answer: str, message: str) -> None:
    with pytest.raises(EditError, match=message.replace("*", r"\*")):
        parse_edits(answer)


def test_edits_apply_in_order_and_create_files(tree: Path) -> None:
    router = "services/runner/agent/router.py"
    changed = apply_edits(
        tree,
        [
            EditBlock(router, "a = 1\n", "a = 10\n"),
            EditBlock(router, "a = 10\nb = 2\n", "a = 11\nb = 2\n"),  # sees the first block
            EditBlock("services/runner/agent/extra.py", "", "X = 1\n"),
        ],
    )
    assert changed == ["services/runner/agent/extra.py", router]  # sorted
    assert (tree / router).read_text() == "a = 11\nb = 2\nc = 3\nb = 2\n"
    assert (tree / "services/runner/agent/extra.py").read_text() == "X = 1\n"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (EditBlock("services/runner/agent/router.py", "b = 2\n", "b = 3\n"), "occurs 2 times"),
        (EditBlock("services/runner/agent/router.py", "z = 9\n", "z = 0\n"), "occurs 0 times"),
        (
            EditBlock("services/runner/agent/router.py", "a  =  1\nb = 2\n", "x\n"),
            "different whitespace",
        ),
        (EditBlock("services/runner/agent/router.py", "", "new\n"), "but .* exists"),
        (EditBlock("services/runner/agent/gone.py", "a\n", "b\n"), "does not exist"),
        (EditBlock("../outside.py", "", "x\n"), "without '..'"),
        (EditBlock("/etc/passwd", "", "x\n"), "without '..'"),
        (EditBlock("ratchet/policy.py", "", "x\n"), "architect may not change ratchet/policy.py"),
        (EditBlock("tasks/banking77/x.csv", "", "x\n"), "may not change"),
        (EditBlock("services/runner/agent", "", "x\n"), "is a directory"),
        (
            EditBlock("services/runner/agent/router.py", "a = 1\n", "a = (\n"),
            "leave services/runner/agent/router.py invalid Python: '\\(' was never closed",
        ),
        (
            EditBlock("state/active.state.json", "}\n", "\n"),
            "leave state/active.state.json invalid JSON: Expecting",
        ),
    ],
)
def test_one_bad_block_writes_nothing(tree: Path, edit: EditBlock, message: str) -> None:
    """The good block before it is not applied either: all or nothing."""
    before = snapshot(tree)
    good = EditBlock("state/active.state.json", '  "k": 1\n', '  "k": 2\n')
    with pytest.raises(EditError, match=message):
        apply_edits(tree, [good, edit])
    assert snapshot(tree) == before


def test_a_symlink_out_of_the_tree_is_refused(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "services/runner/agent/link").symlink_to(outside)
    with pytest.raises(EditError, match="resolves outside the repository"):
        apply_edits(tree, [EditBlock("services/runner/agent/link/x.py", "", "x\n")])
    assert not (outside / "x.py").exists()
