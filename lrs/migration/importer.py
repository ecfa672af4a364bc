"""Importing another LRS's statements through the one write path, batch by batch.

Every statement goes through `StatementService.store_statements`, which validates it, checks
it against what is stored and stores it; nothing here writes to the store. Outcomes, per
statement:

- new: stored by this run;
- already present: its id was stored before with equivalent content (a re-run, or an overlap
  between two exports); nothing is written (1.0.3 Part 3 §2.1.1);
- rejected: not a statement the LRS accepts (not JSON, not an object, no id, invalid), or its id
  is stored with different content (409). A batch that fails because of some of its statements
  is retried one statement at a time, so only those are rejected.

An error of the store itself (5xx, e.g. StoreUnavailable) stops the import: what was stored
stays stored, and running the same import again picks up where it stopped, since statements
already present are only counted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

from lrs.errors import LRSError, StatementConflict
from lrs.migration.input import Element, ExportReader
from lrs.services.statements import StatementService
from lrs.store.base import StatementStore
from lrs.xapi.validation import VERSION_1_RE
from lrs.xapi.versions import V1, V2


@dataclass
class ImportCounts:
    """How many statements were new, already present and rejected so far."""

    new: int = 0
    present: int = 0
    rejected: int = 0

    def summary(self) -> str:
        """The counts as one line of text."""
        return f"{self.new} new, {self.present} already present, {self.rejected} rejected"


@dataclass(frozen=True)
class Candidate:
    """A parsed statement waiting for its batch, with where it came from."""

    element: Element
    statement: dict[str, Any]
    key: str  # the id, lower-cased as the store keys it
    rules: str  # the xAPI version whose rules it is validated under


class RejectLog:
    """Where rejections go: NDJSON lines in a file, else the first few on stderr."""

    shown_on_stderr = 10

    def __init__(self, out: Any | None, progress: Progress) -> None:
        self._out = out
        self._progress = progress
        self._count = 0

    def reject(self, element: Element, statement_id: Any, reason: str) -> None:
        """Record one rejected statement."""
        self._count += 1
        row = {"line": element.line, "index": element.index, "id": statement_id, "reason": reason}
        if self._out is not None:
            self._out.write(orjson.dumps(row) + b"\n")
        elif self._count <= self.shown_on_stderr:
            self._progress.note(f"rejected line {element.line}: {reason}")
        elif self._count == self.shown_on_stderr + 1:
            self._progress.note("more rejections not shown; use --rejects FILE to keep them all")


class Progress:
    """A one-line progress report on stderr, rewritten in place with `\\r` (no dependency)."""

    interval_s = 0.2

    def __init__(self, total_bytes: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self._total = total_bytes
        self._enabled = enabled
        self._stream = stream or sys.stderr
        self._shown = 0  # length of the line on screen, 0 when there is none
        self._last = 0.0

    def update(self, bytes_read: int, counts: ImportCounts, *, force: bool = False) -> None:
        """Redraw the line, at most every `interval_s` unless forced."""
        now = time.monotonic()
        if not self._enabled or (not force and now - self._last < self.interval_s):
            return
        self._last = now
        share = 100.0 * bytes_read / self._total if self._total else 100.0
        text = (
            f"{min(share, 100.0):5.1f}%  {_size(bytes_read)} / {_size(self._total)}  "
            f"{counts.new + counts.present} imported ({counts.summary()})"
        )
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)

    def note(self, text: str) -> None:
        """Print a line of its own, above the progress line."""
        self._clear()
        print(text, file=self._stream, flush=True)

    def finish(self) -> None:
        """End the progress line so that what follows starts on a fresh line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0

    def _clear(self) -> None:
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # unreachable


class StatementImporter:
    """Feeds an export's statements to the statement service in batches (module docstring)."""

    def __init__(
        self,
        service: StatementService,
        store: StatementStore,
        *,
        authority: dict[str, Any],
        default_version: str,
        batch_size: int,
        keep_stored: bool,
        keep_authority: bool,
        rejects: RejectLog,
        progress: Progress,
    ) -> None:
        self._service = service
        self._store = store
        self._authority = authority
        self._default_rules = V2 if default_version.startswith("2") else V1
        self._batch_size = batch_size
        self._keep_stored = keep_stored
        self._keep_authority = keep_authority
        self._rejects = rejects
        self._progress = progress
        self.counts = ImportCounts()

    async def run(self, reader: ExportReader) -> ImportCounts:
        """Import every statement of the file; the counts of what happened."""
        batch: list[Candidate] = []
        for element in reader.elements():
            candidate = self._parse(element)
            if candidate is not None:
                batch.append(candidate)
            if len(batch) >= self._batch_size:
                await self._flush(batch)
                batch = []
            self._progress.update(reader.bytes_read, self.counts)
        if batch:
            await self._flush(batch)
        self._progress.update(reader.bytes_read, self.counts, force=True)
        return self.counts

    def _parse(self, element: Element) -> Candidate | None:
        try:
            statement = orjson.loads(element.text)
        except orjson.JSONDecodeError as exc:
            self._reject(element, None, f"not JSON: {exc}")
            return None
        if not isinstance(statement, dict):
            self._reject(element, None, "not a statement: a JSON object is expected")
            return None
        statement_id = statement.get("id")
        if not isinstance(statement_id, str):
            # Ids are always kept, so that importing the same file twice stores nothing twice.
            self._reject(element, statement_id, "id is required: an import keeps ids")
            return None
        version = statement.get("version")
        rules = self._default_rules
        if isinstance(version, str):
            rules = V1 if VERSION_1_RE.fullmatch(version) else V2 if version == V2 else rules
        return Candidate(element, statement, statement_id.lower(), rules)

    def _reject(self, element: Element, statement_id: Any, reason: str) -> None:
        self.counts.rejected += 1
        self._rejects.reject(element, statement_id, reason)

    async def _flush(self, batch: Sequence[Candidate]) -> None:
        """Store a batch, in runs of statements validated under the same xAPI version."""
        start = 0
        for end in range(1, len(batch) + 1):
            if end == len(batch) or batch[end].rules != batch[start].rules:
                await self._store_run(batch[start:end])
                start = end

    async def _store_run(self, run: Sequence[Candidate]) -> None:
        present = await self._store.get_statements([c.key for c in run])
        try:
            await self._store_statements([c.statement for c in run], run[0].rules)
        except LRSError as error:
            if error.status >= 500:
                raise
            for candidate in run:  # find the bad ones; the others are stored one by one
                await self._store_one(candidate)
            return
        self.counts.present += len(present)
        self.counts.new += len(run) - len(present)

    async def _store_one(self, candidate: Candidate) -> None:
        present = await self._store.get_statements([candidate.key])
        try:
            await self._store_statements(candidate.statement, candidate.rules)
        except StatementConflict as error:
            reason = f"conflict: {error.message}"
            self._reject(candidate.element, candidate.statement["id"], reason)
        except LRSError as error:
            if error.status >= 500:
                raise
            self._reject(candidate.element, candidate.statement["id"], error.message)
        else:
            if present:
                self.counts.present += 1
            else:
                self.counts.new += 1

    async def _store_statements(self, body: Any, rules: str) -> None:
        await self._service.store_statements(
            body,
            authority=self._authority,
            version=rules,
            keep_authority=self._keep_authority,
            keep_stored=self._keep_stored,
        )
