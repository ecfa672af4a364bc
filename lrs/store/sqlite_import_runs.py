"""SQLite ImportRunStore: table `import_runs`, the run as JSON beside its start time and kind
(the columns read by)."""

from __future__ import annotations

import dataclasses

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from lrs.store.import_runs import ImportRun, run_from_json

IMPORT_RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS import_runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    started_us INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS import_runs_started ON import_runs(started_us);
"""


class SQLiteImportRunStore:
    """Import runs in one small table."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(IMPORT_RUNS_SCHEMA)

    async def add_run(self, run: ImportRun) -> None:
        """Insert the run."""
        sql = "INSERT INTO import_runs (id, kind, started_us, body) VALUES (?, ?, ?, ?)"
        row = (run.id, run.kind, run.started_us, orjson.dumps(dataclasses.asdict(run)).decode())
        await self._db.write(lambda c: c.execute(sql, row))

    async def recent_runs(self, limit: int = 50, kind: str | None = None) -> list[ImportRun]:
        """Newest first."""
        where, params = ("WHERE kind = ? ", (kind, limit)) if kind else ("", (limit,))
        sql = f"SELECT body FROM import_runs {where}ORDER BY started_us DESC, id DESC LIMIT ?"
        rows = await self._db.read(lambda c: c.execute(sql, params).fetchall())
        return [run_from_json(orjson.loads(body)) for (body,) in rows]

    async def get_run(self, run_id: str) -> ImportRun | None:
        """One run."""
        sql = "SELECT body FROM import_runs WHERE id = ?"
        row = await self._db.read(lambda c: c.execute(sql, (run_id,)).fetchone())
        return run_from_json(orjson.loads(row[0])) if row else None
