"""Import history: every bulk import records its run (`lrs.store.import_runs`), so operators
see in the console what was imported, by whom, and which rows were refused and why.

`lrs import-statements`, `lrs import-scorm` and `lrs identities import` each keep the first
rejected items as their `RejectLog` reports them (`Rejections`), and record the run when they
end, whether or not they got through the file. Recording is best effort: a store that fails
then is reported on stderr, and the import's own outcome (what it stored, its exit status)
stands.
"""

from __future__ import annotations

import getpass
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from lrs.errors import LRSError
from lrs.importing.reports import Rejections
from lrs.store.base import Backend
from lrs.store.engine import open_store
from lrs.store.import_runs import ImportRun, ImportRunStore
from lrs.store.mongo_import_runs import MongoImportRunStore
from lrs.store.sqlite_import_runs import SQLiteImportRunStore

log = logging.getLogger(__name__)


async def open_import_runs(backend: Backend) -> ImportRunStore:
    """The import history on the backend (its table or index created)."""
    store: ImportRunStore = await open_store(
        backend, sqlite=SQLiteImportRunStore, mongo=MongoImportRunStore
    )
    return store


def cli_actor() -> str:
    """Who runs an import from the command line: `cli:<OS user>` (`cli` when unknown)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in the environment nor the password database
        return "cli"


@dataclass
class ImportRecord:
    """An import being run: started now; `finish` builds the run to store."""

    kind: str
    file_name: str
    actor: str = field(default_factory=cli_actor)
    started_us: int = field(default_factory=lambda: time.time_ns() // 1000)
    rejections: Rejections = field(default_factory=Rejections)

    def finish(
        self,
        *,
        accepted: int,
        present: int,
        rejected: int,
        outcome: str = "completed",
        details: dict[str, Any] | None = None,
    ) -> ImportRun:
        """The run as it ended."""
        return ImportRun(
            id=uuid.uuid4().hex,
            kind=self.kind,
            file_name=self.file_name,
            actor=self.actor,
            started_us=self.started_us,
            finished_us=max(time.time_ns() // 1000, self.started_us),
            accepted=accepted,
            present=present,
            rejected=rejected,
            outcome=outcome,
            rejections=tuple(self.rejections.kept),
            details=details or {},
        )


async def save_run(store: ImportRunStore, run: ImportRun) -> bool:
    """Store the run; False (and a warning) when the store refuses it."""
    try:
        await store.add_run(run)
    except LRSError as exc:
        log.warning("import run not recorded: %s", exc.message)
        return False
    return True


async def record_run(backend: Backend, run: ImportRun) -> bool:
    """Open the history on the backend and store the run (best effort, as `save_run`)."""
    try:
        store = await open_import_runs(backend)
    except LRSError as exc:
        log.warning("import run not recorded: %s", exc.message)
        return False
    return await save_run(store, run)
