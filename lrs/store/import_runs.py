"""The storage seam of import history: one record per run of a bulk import.

    ImportRun       when an import ran, who ran it (the CLI and its OS user), the file's name,
                    its kind (`statements`, `scorm`, `identities`), what it accepted, found
                    already present and rejected, and the first rejected items with reasons

Runs are few (an operator or a nightly job starts them), so a run is one row / document,
its first rejections included (capped: `lrs.importing.reports.KEPT_REJECTIONS`); the history
is read newest first. SQLite in `sqlite_import_runs.py`, MongoDB in `mongo_import_runs.py`;
the contract tests run both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

STATEMENTS, SCORM, IDENTITIES = "statements", "scorm", "identities"


@dataclass(frozen=True)
class ImportRun:
    """One import and what it did. `rejections` are (where in the file, reason) of the first
    rejected items (20 at most); `outcome` is `completed` or `failed` (the file
    or the store failed midway: what was stored stays stored)."""

    id: str
    kind: str
    file_name: str
    actor: str
    started_us: int
    finished_us: int
    accepted: int
    present: int
    rejected: int
    outcome: str = "completed"
    rejections: tuple[tuple[str, str], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ImportRunStore(Protocol):
    """Import runs, newest first."""

    async def add_run(self, run: ImportRun) -> None:
        """Store a run (its id is new)."""
        ...

    async def recent_runs(self, limit: int = 50, kind: str | None = None) -> list[ImportRun]:
        """The newest runs (of one kind), newest first, at most `limit`."""
        ...

    async def get_run(self, run_id: str) -> ImportRun | None:
        """One run, or None."""
        ...


def run_from_json(data: dict[str, Any]) -> ImportRun:
    """A run from its JSON form (what both backends store)."""
    data = dict(data)
    data["rejections"] = tuple((str(r[0]), str(r[1])) for r in data.get("rejections", ()))
    return ImportRun(**data)
