"""`lrs import-scorm`: legacy completion records → statements, through the one write path.

`records.read_records` turns each row of the export into its statements or a rejection, as a
stream; this module hands the statements to `StatementService.store_statements` in batches.
Nothing here writes to the store. Outcomes, per row:

- new: at least one of its statements was stored by this run;
- already present: every one of its statement ids was stored before (a re-import: the ids are
  UUIDv5 of the record's natural key, so the same file gives the same ids), nothing written;
- rejected: the row cannot be converted (records.py says why), its statements are not valid
  xAPI, or one of its ids is stored with different content (409).

A batch that fails because of one row (a 4xx from the write path) is retried row by row (each
row all or nothing), so only the bad rows are rejected and the others are stored. An error of
the store itself (5xx) stops the import; what was stored stays stored, and running it again
completes it. Memory stays constant: one batch, the counts, and nothing per row kept after it
is written (rejections go to the --rejects file as they happen).
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

from lrs.errors import LRSError, StatementConflict
from lrs.services.statements import StatementService
from lrs.store.base import StatementStore
from lrs.xapi.validation import validate_statements
from lrs.xapi.versions import XAPI_VERSION
from scorm_adapter.records import ConvertedRecord, RecordOutcome, RejectedRecord

SHOWN_REJECTIONS = 10


@dataclass
class ImportCounts:
    """Rows new, already present and rejected, and the statements behind them."""

    rows_new: int = 0
    rows_present: int = 0
    rows_rejected: int = 0
    statements_new: int = 0
    statements_present: int = 0

    @property
    def rows(self) -> int:
        """Rows read (blank lines aside)."""
        return self.rows_new + self.rows_present + self.rows_rejected

    def summary(self, *, dry_run: bool) -> str:
        """The one-line summary the command prints."""
        new = "would be new" if dry_run else "new"
        head = "dry run, nothing stored: " if dry_run else ""
        return (
            f"{head}{self.rows} rows: {self.rows_new} {new}, {self.rows_present} already "
            f"present, {self.rows_rejected} rejected (statements: {self.statements_new} {new}, "
            f"{self.statements_present} already present)"
        )


class RejectLog:
    """Rejected rows: to the --rejects CSV file (row, reason), or the first few to stderr."""

    def __init__(self, out: TextIO | None, progress: Progress) -> None:
        self._writer = csv.writer(out) if out is not None else None
        if self._writer is not None:
            self._writer.writerow(["row", "reason"])
        self._progress = progress
        self._shown = 0

    def reject(self, row: int, reason: str) -> None:
        """Record one rejected row."""
        if self._writer is not None:
            self._writer.writerow([row, reason])
            return
        self._shown += 1
        if self._shown <= SHOWN_REJECTIONS:
            self._progress.note(f"rejected row {row}: {reason}")
        elif self._shown == SHOWN_REJECTIONS + 1:
            self._progress.note("more rejections not shown; use --rejects FILE to keep them all")


class Progress:
    """A progress bar on stderr, rewritten in place with `\\r`: bytes read of the file, rows."""

    WIDTH = 30

    def __init__(self, total_bytes: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self._total = max(total_bytes, 1)
        self._enabled = enabled
        self._stream = stream or sys.stderr
        self._last = 0.0
        self._shown = False

    def update(self, bytes_read: int, counts: ImportCounts, *, force: bool = False) -> None:
        """Redraw the bar (at most five times a second unless forced)."""
        now = time.monotonic()
        if not self._enabled or (not force and now - self._last < 0.2):
            return
        self._last = now
        share = min(bytes_read / self._total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self._stream.write(
            f"\r[{bar}] {share:4.0%}  {counts.rows} rows, {counts.rows_new} new, "
            f"{counts.rows_present} present, {counts.rows_rejected} rejected"
        )
        self._stream.flush()
        self._shown = True

    def note(self, text: str) -> None:
        """Print a line of its own, above the bar."""
        if self._shown:
            self._stream.write("\r\x1b[2K")
        self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False


@dataclass
class _Batch:
    rows: list[ConvertedRecord] = field(default_factory=list)
    statements: dict[str, bytes] = field(default_factory=dict)  # id → serialized statement

    def clashes(self, record: ConvertedRecord) -> bool:
        """True when the record has an id already in the batch with other content."""
        return any(
            self.statements.get(s["id"], orjson.dumps(s)) != orjson.dumps(s)
            for s in record.statements
        )

    def add(self, record: ConvertedRecord) -> None:
        self.rows.append(record)
        for statement in record.statements:
            self.statements.setdefault(statement["id"], orjson.dumps(statement))


class RecordImporter:
    """Feeds converted records to the statement service in batches (module docstring)."""

    def __init__(
        self,
        service: StatementService,
        store: StatementStore,
        *,
        authority: dict[str, Any],
        batch_size: int,
        dry_run: bool,
        rejects: RejectLog,
        progress: Progress,
    ) -> None:
        self._service = service
        self._store = store
        self._authority = authority
        self._batch_size = batch_size
        self._dry_run = dry_run
        self._rejects = rejects
        self._progress = progress
        self.counts = ImportCounts()

    async def run(self, outcomes: Iterable[RecordOutcome], position: Callable[[], int]) -> None:
        """Import every record; `position` tells how many bytes of the file were read."""
        batch = _Batch()
        for outcome in outcomes:
            record = self._checked(outcome)
            if record is not None:
                if batch.clashes(record):
                    await self._flush(batch)
                    batch = _Batch()
                batch.add(record)
                if len(batch.statements) >= self._batch_size:
                    await self._flush(batch)
                    batch = _Batch()
            self._progress.update(position(), self.counts)
        if batch.rows:
            await self._flush(batch)
        self._progress.update(position(), self.counts, force=True)

    def _checked(self, outcome: RecordOutcome) -> ConvertedRecord | None:
        if isinstance(outcome, RejectedRecord):
            self._reject(outcome.row, outcome.reason)
            return None
        try:
            validate_statements(outcome.statements, XAPI_VERSION)
        except LRSError as error:
            self._reject(outcome.row, f"not a valid statement: {error.message}")
            return None
        return outcome

    def _reject(self, row: int, reason: str) -> None:
        self.counts.rows_rejected += 1
        self._rejects.reject(row, reason)

    async def _flush(self, batch: _Batch) -> None:
        present = set(await self._store.get_statements(list(batch.statements)))
        if not self._dry_run:
            try:
                await self._write([orjson.loads(raw) for raw in batch.statements.values()])
            except LRSError as error:
                if error.status >= 500:
                    raise
                for record in batch.rows:  # find the bad rows; store the others one by one
                    await self._store_row(record, present)
                return
        seen: set[str] = set()
        for record in batch.rows:
            self._count(record, present | seen)
            seen.update(s["id"] for s in record.statements)

    async def _store_row(self, record: ConvertedRecord, present: set[str]) -> None:
        try:
            await self._write(record.statements)
        except StatementConflict as error:
            self._reject(record.row, f"conflict: {error.message}")
        except LRSError as error:
            if error.status >= 500:
                raise
            self._reject(record.row, error.message)
        else:
            self._count(record, present)
            present.update(s["id"] for s in record.statements)

    def _count(self, record: ConvertedRecord, present: set[str]) -> None:
        ids = {s["id"] for s in record.statements}
        new = len(ids - present)
        self.counts.statements_new += new
        self.counts.statements_present += len(ids) - new
        if new:
            self.counts.rows_new += 1
        else:
            self.counts.rows_present += 1

    async def _write(self, statements: list[dict[str, Any]]) -> None:
        await self._service.store_statements(
            statements, authority=self._authority, version=XAPI_VERSION
        )
