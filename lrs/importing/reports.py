"""What an import tells its user: counts, the rejects report and a progress line on stderr.

Each command words its own summary; what they share is here. A rejected item is reported by
its `Origin` (where in the file it was): to a rejects file (NDJSON objects or CSV rows, one
per reject) or, without one, the first few as lines on stderr above the progress line.
"""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

import orjson

SHOWN_REJECTIONS = 10
KEPT_REJECTIONS = 20  # in an import's record of the history (lrs.store.import_runs)


@dataclass
class ImportCounts:
    """How many items (or statements) were new, already present and rejected so far."""

    new: int = 0
    present: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        """Everything counted."""
        return self.new + self.present + self.rejected

    def summary(self) -> str:
        """The counts as one line of text."""
        return f"{self.new} new, {self.present} already present, {self.rejected} rejected"


class Origin(Protocol):
    """Where a rejected item was found in the file."""

    @property
    def label(self) -> str:
        """How stderr names it, e.g. `line 3`."""
        ...

    def fields(self) -> dict[str, Any]:
        """The rejects file's columns before the reason."""
        ...


class RejectFile(Protocol):
    """The --rejects file: one entry per rejected item."""

    def write(self, fields: dict[str, Any], reason: str) -> None:
        """Write one rejected item."""
        ...


class NdjsonRejects:
    """Rejects as NDJSON lines: the origin's fields, then `reason`."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, fields: dict[str, Any], reason: str) -> None:
        """Write one line."""
        self._out.write(orjson.dumps({**fields, "reason": reason}) + b"\n")


class CsvRejects:
    """Rejects as CSV rows under a header: the origin's `columns`, then `reason`."""

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self._columns = tuple(columns)
        self._writer = csv.writer(out)
        self._writer.writerow([*self._columns, "reason"])

    def write(self, fields: dict[str, Any], reason: str) -> None:
        """Write one row."""
        self._writer.writerow([*(fields[c] for c in self._columns), reason])


@contextlib.contextmanager
def csv_rejects_file(path: Path | None, columns: Sequence[str]) -> Iterator[CsvRejects | None]:
    """A `--rejects` CSV report written to `path` for the import's lifetime (None: no report)."""
    if path is None:
        yield None
        return
    with path.open("w", encoding="utf-8", newline="") as out:
        yield CsvRejects(out, columns)


Describe = Callable[[int, int, ImportCounts], str]


def bytes_and_counts(bytes_read: int, total_bytes: int, counts: ImportCounts) -> str:
    """The default progress line: share and bytes of the file read, items imported."""
    share = 100.0 * bytes_read / total_bytes if total_bytes else 100.0
    return (
        f"{min(share, 100.0):5.1f}%  {_size(bytes_read)} / {_size(total_bytes)}  "
        f"{counts.new + counts.present} imported ({counts.summary()})"
    )


class Progress:
    """A one-line progress report on stderr, rewritten in place with `\\r` (no dependency)."""

    interval_s = 0.2

    def __init__(
        self,
        total_bytes: int,
        *,
        enabled: bool,
        describe: Describe = bytes_and_counts,
        stream: TextIO | None = None,
    ) -> None:
        self._total = total_bytes
        self._enabled = enabled
        self._describe = describe
        self._stream = stream or sys.stderr
        self._shown = 0  # length of the line on screen, 0 when there is none
        self._last = 0.0

    def update(self, bytes_read: int, counts: ImportCounts, *, force: bool = False) -> None:
        """Redraw the line, at most every `interval_s` unless forced."""
        now = time.monotonic()
        if not self._enabled or (not force and now - self._last < self.interval_s):
            return
        self._last = now
        text = self._describe(bytes_read, self._total, counts)
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)

    def note(self, text: str) -> None:
        """Print a line of its own, above the progress line."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0
        print(text, file=self._stream, flush=True)

    def finish(self) -> None:
        """End the progress line so that what follows starts on a fresh line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0


@dataclass
class Rejections:
    """The first rejected items of an import, (where in the file, reason), for its record in
    the import history (`lrs.importing.history`)."""

    limit: int = KEPT_REJECTIONS
    kept: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        """Keep one, while fewer than `limit` are kept."""
        if len(self.kept) < self.limit:
            self.kept.append((where, reason))


class RejectLog:
    """Where rejections go: the rejects file, else the first few on stderr; and the first
    ones to `keep` (for the import history) when given."""

    def __init__(
        self, file: RejectFile | None, progress: Progress, keep: Rejections | None = None
    ) -> None:
        self._file = file
        self._progress = progress
        self._keep = keep
        self._count = 0

    def reject(self, origin: Origin, reason: str) -> None:
        """Report one rejected item."""
        self._count += 1
        if self._keep is not None:
            self._keep.add(origin.label, reason)
        if self._file is not None:
            self._file.write(origin.fields(), reason)
        elif self._count <= SHOWN_REJECTIONS:
            self._progress.note(f"rejected {origin.label}: {reason}")
        elif self._count == SHOWN_REJECTIONS + 1:
            self._progress.note("more rejections not shown; use --rejects FILE to keep them all")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # unreachable
