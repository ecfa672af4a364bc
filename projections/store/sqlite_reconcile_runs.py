"""SQLite ReconcileRunStore: table `marketplace_reconcile_runs`, the run as JSON beside its
start time (the one column read by range)."""

from __future__ import annotations

import dataclasses

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.reconcile_runs import ReconcileRun

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS marketplace_reconcile_runs (
    id TEXT PRIMARY KEY,
    started_us INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS marketplace_reconcile_runs_started
    ON marketplace_reconcile_runs(started_us);
"""


def _run(body: str) -> ReconcileRun:
    data = orjson.loads(body)
    data["flagged"] = tuple(data.get("flagged", ()))
    return ReconcileRun(**data)


class SQLiteReconcileRunStore:
    """Reconcile runs in one small table."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(RUNS_SCHEMA)

    async def add_run(self, run: ReconcileRun) -> None:
        """Insert the run."""
        sql = "INSERT INTO marketplace_reconcile_runs (id, started_us, body) VALUES (?, ?, ?)"
        row = (run.id, run.started_us, orjson.dumps(dataclasses.asdict(run)).decode())
        await self._db.write(lambda c: c.execute(sql, row))

    async def runs_since(self, since_us: int, limit: int = 1000) -> list[ReconcileRun]:
        """Newest first."""
        sql = (
            "SELECT body FROM marketplace_reconcile_runs WHERE started_us >= ? "
            "ORDER BY started_us DESC, id DESC LIMIT ?"
        )
        rows = await self._db.read(lambda c: c.execute(sql, (since_us, limit)).fetchall())
        return [_run(body) for (body,) in rows]

    async def latest_run(self) -> ReconcileRun | None:
        """The newest run."""
        sql = (
            "SELECT body FROM marketplace_reconcile_runs ORDER BY started_us DESC, id DESC LIMIT 1"
        )
        row = await self._db.read(lambda c: c.execute(sql).fetchone())
        return _run(row[0]) if row else None
