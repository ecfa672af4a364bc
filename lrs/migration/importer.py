"""Another LRS's export, element by element, into the shared batch importer.

Every statement goes through `StatementService.store_statements`, which validates it, checks
it against what is stored and stores it; nothing here writes to or reads from the store.
Outcomes, per statement (see `lrs.importing.batches`):

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

from dataclasses import dataclass
from typing import Any

import orjson

from lrs.importing import BatchImporter, ImportCounts, Item, Progress, RejectLog
from lrs.importing.batches import Body
from lrs.migration.input import Element, ExportReader
from lrs.services.outcomes import WriteResult
from lrs.services.statements import StatementService
from lrs.xapi.validation import VERSION_1_RE
from lrs.xapi.versions import V1, V2


@dataclass(frozen=True)
class ElementOrigin:
    """Where a statement of the export is: its line, its position, its id if it has one."""

    element: Element
    statement_id: Any = None

    @property
    def label(self) -> str:
        """`line N`, as stderr names a reject."""
        return f"line {self.element.line}"

    def fields(self) -> dict[str, Any]:
        """The rejects file's `line`, `index` and `id`."""
        return {"line": self.element.line, "index": self.element.index, "id": self.statement_id}


class StatementImporter:
    """Feeds an export's statements to the statement service in batches (module docstring)."""

    def __init__(
        self,
        service: StatementService,
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
        self._authority = authority
        self._default_rules = V2 if default_version.startswith("2") else V1
        self._keep_stored = keep_stored
        self._keep_authority = keep_authority
        self._progress = progress
        self._batches = BatchImporter(self._write, batch_size=batch_size, rejects=rejects)

    @property
    def counts(self) -> ImportCounts:
        """Statements new, already present and rejected so far."""
        return self._batches.counts

    async def run(self, reader: ExportReader) -> ImportCounts:
        """Import every statement of the file; the counts of what happened."""
        for element in reader.elements():
            item = self._parse(element)
            if item is not None:
                await self._batches.add(item)
            self._progress.update(reader.bytes_read, self.counts)
        await self._batches.flush()
        self._progress.update(reader.bytes_read, self.counts, force=True)
        return self.counts

    def _parse(self, element: Element) -> Item | None:
        """The element as an item validated under its version's rules, or None: rejected."""
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
        return Item(ElementOrigin(element, statement_id), statement, rules)

    def _reject(self, element: Element, statement_id: Any, reason: str) -> None:
        self._batches.reject(ElementOrigin(element, statement_id), reason)

    async def _write(self, body: Body, rules: str) -> WriteResult:
        return await self._service.store_statements(
            body,
            authority=self._authority,
            version=rules,
            keep_authority=self._keep_authority,
            keep_stored=self._keep_stored,
        )
