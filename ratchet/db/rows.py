"""One row type for both engines, so a store reads ``row["name"]`` or ``row[0]``
whichever database answered."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any


class Row(tuple[Any, ...]):
    """A result row: a tuple that also answers by column name, like ``sqlite3.Row``;
    ``dict(row)`` gives the columns by name."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((name, super(Row, self).__getitem__(i)) for name, i in self._names.items())


def names_of(description: Sequence[Sequence[Any]] | None) -> dict[str, int]:
    return {} if description is None else {d[0]: i for i, d in enumerate(description)}


def sqlite_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    """``sqlite3`` row factory."""
    return Row(values, names_of(cursor.description))
