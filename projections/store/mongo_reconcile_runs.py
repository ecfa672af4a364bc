"""MongoDB ReconcileRunStore: collection `marketplace_reconcile_runs`, `_id` the run id, an
index on `started_us` (the history is read by start time)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pymongo import IndexModel

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.reconcile_runs import ReconcileRun


def _run(doc: dict[str, Any]) -> ReconcileRun:
    data = dict(doc)
    data["id"] = data.pop("_id")
    data["flagged"] = tuple(data.get("flagged", ()))
    return ReconcileRun(**data)


@translates_errors
class MongoReconcileRunStore:
    """Reconcile runs, one document each."""

    def __init__(self, db: MongoDatabase) -> None:
        self._runs = db["marketplace_reconcile_runs"]

    async def create_indexes(self) -> None:
        """Start time, newest first."""
        await self._runs.create_indexes(
            [IndexModel([("started_us", -1), ("_id", -1)], name="started")]
        )

    async def add_run(self, run: ReconcileRun) -> None:
        """Insert the run."""
        doc = dataclasses.asdict(run)
        doc["_id"] = doc.pop("id")
        doc["flagged"] = list(doc["flagged"])
        await self._runs.insert_one(doc)

    async def runs_since(self, since_us: int, limit: int = 1000) -> list[ReconcileRun]:
        """Newest first."""
        cursor = (
            self._runs.find({"started_us": {"$gte": since_us}})
            .sort([("started_us", -1), ("_id", -1)])
            .limit(limit)
        )
        return [_run(doc) async for doc in cursor]

    async def latest_run(self) -> ReconcileRun | None:
        """The newest run."""
        cursor = self._runs.find({}).sort([("started_us", -1), ("_id", -1)]).limit(1)
        docs = [doc async for doc in cursor]
        return _run(docs[0]) if docs else None
