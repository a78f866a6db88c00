"""One CSV split read into (line, text, label) rows, with what is wrong on which line.

The reader never stops at the first defect: a user fixing a file wants every
bad line at once. Lines are the editor's lines (a quoted field spanning lines
counts them all), so ``file:line`` takes the user to the row.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ratchet.tasks.problems import Problem


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    text: str
    label: str


@dataclass
class Table:
    file: str
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def label_counts(self) -> Counter[str]:
        return Counter(row.label for row in self.rows)


def normalised(text: str) -> str:
    """What makes two texts the same message: case and runs of spaces do not count."""
    return " ".join(text.split()).casefold()


def read_table(path: Path, text_column: str, label_column: str, name: str | None = None) -> Table:
    """The rows of ``path``; a missing column, bad bytes or an empty cell is a problem."""
    table = Table(name or path.name)
    raw = path.read_bytes()
    decoded = _decode(raw, table)
    reader = csv.reader(io.StringIO(decoded, newline=""))
    header = next(reader, None)
    if header is None:
        table.problems.append(Problem(table.file, None, "empty file: expected a header line"))
        return table
    header = [column.strip().lstrip("\ufeff") for column in header]
    missing = [column for column in (text_column, label_column) if column not in header]
    if missing:
        table.problems.append(
            Problem(
                table.file,
                1,
                f"wrong columns: expected {text_column!r} and {label_column!r}, "
                f"found {', '.join(repr(c) for c in header)} (missing {', '.join(missing)})",
            )
        )
        return table
    text_at, label_at = header.index(text_column), header.index(label_column)
    replaced = bool(table.problems)  # only bad bytes are reported before the rows
    line = reader.line_num  # the header's last line
    for record in reader:
        start, line = line + 1, reader.line_num
        if not "".join(record).strip():
            continue  # a blank line between rows
        if len(record) != len(header):
            table.problems.append(
                Problem(
                    table.file, start, f"{len(record)} fields where the header has {len(header)}"
                )
            )
            continue
        text, label = record[text_at].strip(), record[label_at].strip()
        if replaced and ("\ufffd" in text or "\ufffd" in label):
            continue  # reported as bad bytes already (a UTF-8 file may hold U+FFFD itself)
        if not text:
            table.problems.append(
                Problem(table.file, start, f"empty text (column {text_column!r})")
            )
        elif not label:
            table.problems.append(
                Problem(table.file, start, f"empty label (column {label_column!r})")
            )
        else:
            table.rows.append(Row(start, text, label))
    return table


def _decode(raw: bytes, table: Table) -> str:
    """UTF-8 text; each line that is not UTF-8 is a problem (and a replaced character)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            table.problems.append(
                Problem(
                    table.file,
                    number,
                    f"not UTF-8 (byte 0x{line[error.start]:02x} at column {error.start + 1}); "
                    "save the file as UTF-8",
                )
            )
    return raw.decode("utf-8", errors="replace")
