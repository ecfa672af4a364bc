"""The console's import history page: the recorded runs of the bulk imports
(`lrs.importing.history`), newest first, with their first rejected rows and reasons."""

from __future__ import annotations

from dataclasses import dataclass

from lrs.errors import BadRequest
from lrs.store.import_runs import IDENTITIES, SCORM, STATEMENTS, ImportRun, ImportRunStore
from projections.transforms import format_datetime

KINDS = {
    STATEMENTS: "lrs import-statements",
    SCORM: "lrs import-scorm",
    IDENTITIES: "lrs identities import",
}
SHOWN = 50


@dataclass(frozen=True)
class ImportRow:
    """One run as the page lists it."""

    run: ImportRun
    command: str
    started_at: str
    seconds: float


def import_row(run: ImportRun) -> ImportRow:
    """A run with its command and times in the page's form."""
    took = (run.finished_us - run.started_us) / 1e6
    return ImportRow(run, KINDS.get(run.kind, run.kind), format_datetime(run.started_us), took)


async def import_rows(store: ImportRunStore, kind: str) -> list[ImportRow]:
    """The newest runs (of one kind, when `kind` is given); BadRequest for an unknown kind."""
    if kind and kind not in KINDS:
        raise BadRequest(f"kind: one of {', '.join(KINDS)}", parameter="kind")
    return [import_row(r) for r in await store.recent_runs(SHOWN, kind or None)]
