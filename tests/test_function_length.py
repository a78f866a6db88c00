"""No function or method in the project's packages is over 60 lines without a written reason.

Checked: every ``.py`` under each top-level package of the project (a
directory with an ``__init__.py``), except those in :data:`NOT_CHECKED`; a
new package is checked as soon as it exists. A function's length runs from
its ``def`` line to its last line (decorators not counted, docstring and
nested functions counted).

A function that is long for a reason says so in a comment ``# long: <reason>``
on its ``def`` line or on the line right above it (above its decorators, if
it has any), e.g.::

    # long: one table of the CLI's options, read top to bottom
    def build_parser() -> ArgumentParser:
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PROJECT_ROOT

MAX_LINES = 60
NOT_CHECKED = {"tests", "examples", "bench"}  # test code, templates (data), benchmarks
REASON = re.compile(r"#\s*long:\s*\S")


@dataclass(frozen=True)
class LongFunction:
    path: str
    line: int
    name: str
    lines: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} ({self.lines} lines)"


def roots(project: Path = PROJECT_ROOT) -> list[Path]:
    """The project's top-level packages the check covers."""
    return sorted(
        d
        for d in project.iterdir()
        if d.is_dir() and (d / "__init__.py").is_file() and d.name not in NOT_CHECKED
    )


def long_functions(source: str, path: str) -> list[LongFunction]:
    """The functions in ``source`` over :data:`MAX_LINES` without a ``# long:`` reason."""
    comments = {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    found = []
    for node in _functions(ast.parse(source), ""):
        function, name = node
        length = (function.end_lineno or function.lineno) - function.lineno + 1
        first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
        reasons = (comments.get(function.lineno, ""), comments.get(first - 1, ""))
        if length > MAX_LINES and not any(REASON.match(r) for r in reasons):
            found.append(LongFunction(path, function.lineno, name, length))
    return found


def _functions(
    tree: ast.AST, prefix: str
) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
    """Every function under ``tree``, named by where it is (``Class.method``, ``outer.inner``)."""
    found: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]] = []
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((child, prefix + child.name))
            found += _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            found += _functions(child, f"{prefix}{child.name}.")
        else:
            found += _functions(child, prefix)
    return found


def test_every_function_is_at_most_60_lines_or_says_why() -> None:
    checked = roots()
    assert {"ratchet", "services"} <= {d.name for d in checked}
    found = [
        long
        for root in checked
        for path in sorted(root.rglob("*.py"))
        for long in long_functions(
            path.read_text(encoding="utf-8"), str(path.relative_to(PROJECT_ROOT))
        )
    ]
    assert not found, (
        f"functions over {MAX_LINES} lines without a '# long: <reason>' comment:\n"
        + "\n".join(str(f) for f in found)
    )


def _function(name: str, lines: int, above: str = "", on_def: str = "", indent: str = "") -> str:
    """Source of a function ``lines`` long, with ``above`` on the line before its ``def``."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))
    return f"{indent}{above}\n{indent}def {name}():{on_def}\n{body}"


def test_the_check_flags_61_lines_and_accepts_60_or_a_reason() -> None:
    source = "\n".join(
        [
            _function("sixty", 60),
            _function("sixty_one", 61),
            _function("explained_above", 61, above="# long: one flat table"),
            _function("explained_on_def", 61, on_def="  # long: one flat table"),
            _function("empty_reason", 61, above="# long:"),
            "class Box:" + _function("method", 70, indent="    "),
            _function("decorated", 61, above="# long: one block\n@staticmethod"),
        ]
    )
    found = {(f.name, f.lines) for f in long_functions(source, "x.py")}
    assert found == {("sixty_one", 61), ("empty_reason", 61), ("Box.method", 70)}
