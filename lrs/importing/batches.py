"""The batch importer every bulk import shares: items in batches through the one write path.

An item is what a command imports all or nothing (one statement of another LRS's export, the
statements of one completion record). Items are written `batch_size` statements at a time;
consecutive items of the same `group` (e.g. the xAPI version they are validated under) in one
write. Each write reports what it did with every statement (`WriteResult`), so the store is
never read to tell new from already present. Outcomes, per item:

- new: at least one of its statements was stored by this import;
- already present: every one of its statements was stored before with equivalent content (a
  re-run, or an overlap between two files), so nothing was written;
- rejected: the command refused it before writing (`reject`), or the write path did (invalid,
  or an id stored with different content: `conflict`).

A write that fails because of some items (a 4xx) is retried item by item, so only those are
rejected. An error of the store itself (5xx) stops the import: what was stored stays stored,
and running the same import again completes it. A statement id met twice in one batch is
written once when the statements are equal, and starts a new batch when they differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.errors import LRSError, StatementConflict
from lrs.importing.reports import ImportCounts, Origin, RejectLog
from lrs.services.outcomes import StatementOutcome, WriteResult

Statement = dict[str, Any]
Body = Statement | list[Statement]
Write = Callable[[Body, str], Awaitable[WriteResult]]


@dataclass(frozen=True)
class Item:
    """What is imported all or nothing, and where it came from (for the rejects report)."""

    origin: Origin
    body: Body  # one statement, or a list: written as such when the item is written alone
    group: str = ""  # written together only with items of the same group

    @property
    def statements(self) -> list[Statement]:
        """The item's statements."""
        return [self.body] if isinstance(self.body, dict) else self.body


@dataclass
class _Batch:
    items: list[Item] = field(default_factory=list)
    statements: dict[str, bytes] = field(default_factory=dict)  # id → serialized statement

    def take(self, item: Item) -> bool:
        """Add the item, unless one of its ids is in the batch with other content."""
        serialized = [(_key(s), orjson.dumps(s)) for s in item.statements]
        if any(self.statements.get(key, raw) != raw for key, raw in serialized):
            return False
        self.items.append(item)
        for key, raw in serialized:
            self.statements.setdefault(key, raw)
        return True

    def runs(self) -> Iterator[list[Item]]:
        """Consecutive items of the same group."""
        start = 0
        for end in range(1, len(self.items) + 1):
            if end == len(self.items) or self.items[end].group != self.items[start].group:
                yield self.items[start:end]
                start = end


class BatchImporter:
    """Writes items in batches, retrying a failed batch item by item (module docstring)."""

    def __init__(self, write: Write, *, batch_size: int, rejects: RejectLog) -> None:
        self._write = write
        self._batch_size = batch_size
        self._rejects = rejects
        self._batch = _Batch()
        self.counts = ImportCounts()  # items
        self.statements = ImportCounts()  # the statements of items new or already present

    def reject(self, origin: Origin, reason: str) -> None:
        """Count and report an item refused before it was written."""
        self.counts.rejected += 1
        self._rejects.reject(origin, reason)

    async def add(self, item: Item) -> None:
        """Queue an item; write the batch when it is full."""
        if not self._batch.take(item):
            await self.flush()
            self._batch.take(item)
        if len(self._batch.statements) >= self._batch_size:
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued."""
        batch, self._batch = self._batch, _Batch()
        for run in batch.runs():
            await self._write_run(run)

    async def _write_run(self, run: list[Item]) -> None:
        distinct = {_key(s): s for item in run for s in item.statements}  # equal, by `take`
        try:
            result = await self._write(list(distinct.values()), run[0].group)
        except LRSError as error:
            if error.status >= 500:
                raise
            for item in run:  # find the bad ones; the others are written one by one
                await self._write_alone(item)
            return
        seen: set[str] = set()
        for item in run:
            self._count(item, result, seen)

    async def _write_alone(self, item: Item) -> None:
        try:
            result = await self._write(item.body, item.group)
        except StatementConflict as error:
            self.reject(item.origin, f"conflict: {error.message}")
        except LRSError as error:
            if error.status >= 500:
                raise
            self.reject(item.origin, error.message)
        else:
            self._count(item, result, set())

    def _count(self, item: Item, result: WriteResult, seen: set[str]) -> None:
        """Count an item written by `result`; `seen`: ids counted before in the same write."""
        keys = {_key(s) for s in item.statements}
        new = sum(1 for k in keys if k not in seen and result.outcome(k) is StatementOutcome.STORED)
        seen.update(keys)
        self.statements.new += new
        self.statements.present += len(keys) - new
        if new:
            self.counts.new += 1
        else:
            self.counts.present += 1


def _key(statement: Statement) -> str:
    """A statement's id as the store keys it."""
    return str(statement["id"]).lower()
