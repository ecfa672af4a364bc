"""MongoDB ImportRunStore: collection `import_runs`, `_id` the run id, an index on
`started_us` (the history is read newest first)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pymongo import IndexModel

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from lrs.store.import_runs import ImportRun, run_from_json


def _run(doc: dict[str, Any]) -> ImportRun:
    data = dict(doc)
    data["id"] = data.pop("_id")
    return run_from_json(data)


@translates_errors
class MongoImportRunStore:
    """Import runs, one document each."""

    def __init__(self, db: MongoDatabase) -> None:
        self._runs = db["import_runs"]

    async def create_indexes(self) -> None:
        """Start time, newest first."""
        await self._runs.create_indexes(
            [IndexModel([("started_us", -1), ("_id", -1)], name="started")]
        )

    async def add_run(self, run: ImportRun) -> None:
        """Insert the run."""
        doc = dataclasses.asdict(run)
        doc["_id"] = doc.pop("id")
        doc["rejections"] = [list(r) for r in doc["rejections"]]
        await self._runs.insert_one(doc)

    async def recent_runs(self, limit: int = 50, kind: str | None = None) -> list[ImportRun]:
        """Newest first."""
        query = {"kind": kind} if kind else {}
        cursor = self._runs.find(query).sort([("started_us", -1), ("_id", -1)]).limit(limit)
        return [_run(doc) async for doc in cursor]

    async def get_run(self, run_id: str) -> ImportRun | None:
        """One run."""
        doc = await self._runs.find_one({"_id": run_id})
        return _run(doc) if doc else None
