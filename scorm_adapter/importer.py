"""`lrs import-scorm`: legacy completion records → statements, through the one write path.

`records.read_records` turns each row of the export into its statements or a rejection, as a
stream; this module hands each row's statements to the shared batch importer
(`lrs.importing`), which writes them with `StatementService.store_statements`. Nothing here
writes to the store. Outcomes, per row:

- new: at least one of its statements was stored by this run;
- already present: every one of its statement ids was stored before (a re-import: the ids are
  UUIDv5 of the record's natural key, so the same file gives the same ids), nothing written;
- rejected: the row cannot be converted (records.py says why), its statements are not valid
  xAPI, or one of its ids is stored with different content (409).

A batch that fails because of one row (a 4xx from the write path) is retried row by row (each
row all or nothing), so only the bad rows are rejected and the others are stored. An error of
the store itself (5xx) stops the import; what was stored stays stored, and running it again
completes it. Memory stays constant: one batch, the counts, and nothing per row kept after it
is written (rejections go to the --rejects file as they happen). A dry run writes nothing: it
reads which ids are stored already, the only import that reads the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lrs.errors import LRSError
from lrs.importing import BatchImporter, ImportCounts, Item, Progress, RejectLog
from lrs.importing.batches import Body
from lrs.services.outcomes import WriteResult
from lrs.services.statements import StatementService
from lrs.store.base import StatementStore
from lrs.xapi.validation import validate_statements
from lrs.xapi.versions import XAPI_VERSION
from scorm_adapter.records import RecordOutcome, RejectedRecord

REJECT_COLUMNS = ("row",)


@dataclass(frozen=True)
class RowOrigin:
    """The line of the file a record starts on."""

    row: int

    @property
    def label(self) -> str:
        """`row N`, as stderr names a reject."""
        return f"row {self.row}"

    def fields(self) -> dict[str, Any]:
        """The rejects file's `row` column."""
        return {"row": self.row}


def summary(rows: ImportCounts, statements: ImportCounts, *, dry_run: bool) -> str:
    """The one-line summary the command prints."""
    new = "would be new" if dry_run else "new"
    head = "dry run, nothing stored: " if dry_run else ""
    return (
        f"{head}{rows.total} rows: {rows.new} {new}, {rows.present} already "
        f"present, {rows.rejected} rejected (statements: {statements.new} {new}, "
        f"{statements.present} already present)"
    )


def progress_bar(bytes_read: int, total_bytes: int, counts: ImportCounts) -> str:
    """The progress line: a bar of the bytes read, and the rows so far."""
    width = 30
    share = min(bytes_read / max(total_bytes, 1), 1.0)
    filled = int(share * width)
    bar = "#" * filled + "-" * (width - filled)
    return (
        f"[{bar}] {share:4.0%}  {counts.total} rows, {counts.new} new, "
        f"{counts.present} present, {counts.rejected} rejected"
    )


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
        self._progress = progress
        write = self._look_up if dry_run else self._write
        self._batches = BatchImporter(write, batch_size=batch_size, rejects=rejects)

    @property
    def counts(self) -> ImportCounts:
        """Rows new, already present and rejected so far."""
        return self._batches.counts

    @property
    def statement_counts(self) -> ImportCounts:
        """The statements of the rows new or already present."""
        return self._batches.statements

    async def run(self, outcomes: Iterable[RecordOutcome], position: Callable[[], int]) -> None:
        """Import every record; `position` tells how many bytes of the file were read."""
        for outcome in outcomes:
            item = self._checked(outcome)
            if item is not None:
                await self._batches.add(item)
            self._progress.update(position(), self.counts)
        await self._batches.flush()
        self._progress.update(position(), self.counts, force=True)

    def _checked(self, outcome: RecordOutcome) -> Item | None:
        if isinstance(outcome, RejectedRecord):
            self._batches.reject(RowOrigin(outcome.row), outcome.reason)
            return None
        try:
            validate_statements(outcome.statements, XAPI_VERSION)
        except LRSError as error:
            reason = f"not a valid statement: {error.message}"
            self._batches.reject(RowOrigin(outcome.row), reason)
            return None
        return Item(RowOrigin(outcome.row), outcome.statements)

    async def _write(self, body: Body, _group: str) -> WriteResult:
        return await self._service.store_statements(
            body, authority=self._authority, version=XAPI_VERSION
        )

    async def _look_up(self, body: Body, _group: str) -> WriteResult:
        """A dry run's write: nothing stored, the ids already stored read from the store."""
        ids = [str(s["id"]).lower() for s in ([body] if isinstance(body, dict) else body)]
        present = await self._store.get_statements(ids)
        return WriteResult(ids, frozenset(present))
