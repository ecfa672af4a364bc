"""CSV files read as a stream of rows, each with the line of the file it starts on.

A quoted cell may span lines, so a row's line is counted where it starts, which is the line a
user looks for in the file. Rows whose cells are all blank are skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CsvRow:
    """One row of a CSV file: the line it starts on and its cells."""

    line: int
    cells: list[str]


class CsvRows:
    """A CSV file's header (None when the file is empty) and its non-blank rows."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._reader = csv.reader(lines)
        self.header: list[str] | None = next(self._reader, None)

    def __iter__(self) -> Iterator[CsvRow]:
        """The rows after the header, in order."""
        start = self._reader.line_num + 1
        for cells in self._reader:
            line, start = start, self._reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield CsvRow(line, cells)
