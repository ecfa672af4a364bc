"""MongoDB QualityStore: collection `marketplace_quality`, `_id` the item id (reason:statement).

A batch of issues is a set of concurrent upserts filtered on `state != dismissed` (the fact
store's way): for a dismissed item the filter matches nothing and the upsert's insert fails
on the `_id`, which is how it stays dismissed (a duplicate key after one retry is expected:
the retry covers a concurrent first insert). The
offending value is kept as JSON text: statement extensions have keys with dots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any

import orjson
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.quality import DISMISSED, OPEN, RESOLVED, QualityIssue, QualityItem


def _item(doc: dict[str, Any]) -> QualityItem:
    issue = QualityIssue(
        doc["statement_id"],
        doc["reason"],
        doc["field"],
        orjson.loads(doc["value"]),
        doc.get("member_id"),
        doc.get("activity_id"),
    )
    return QualityItem(
        issue, doc["state"], doc["mapping_version"], doc["first_seen_us"], doc["last_seen_us"]
    )


def _upsert(issue: QualityIssue, mapping_version: str, now_us: int) -> dict[str, Any]:
    fields = {
        "statement_id": issue.statement_id,
        "reason": issue.reason,
        "field": issue.field,
        "value": orjson.dumps(issue.value).decode(),
        "member_id": issue.member_id,
        "activity_id": issue.activity_id,
        "state": OPEN,
        "mapping_version": mapping_version,
        "last_seen_us": now_us,
    }
    return {"$set": fields, "$setOnInsert": {"first_seen_us": now_us}}


@translates_errors
class MongoQualityStore:
    """The data-quality queue in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._items = db["marketplace_quality"]

    async def create_indexes(self) -> None:
        """By statement (resolving) and by state and id (listing)."""
        await self._items.create_indexes(
            [
                IndexModel([("statement_id", 1)], name="statement"),
                IndexModel([("state", 1), ("_id", 1)], name="state"),
            ]
        )

    async def record_issues(
        self, issues: Sequence[QualityIssue], mapping_version: str, now_us: int
    ) -> None:
        """Concurrent upserts; a dismissed item's duplicate key is expected."""

        async def put(issue: QualityIssue) -> None:
            query = {"_id": issue.item_id, "state": {"$ne": DISMISSED}}
            update = _upsert(issue, mapping_version, now_us)
            for _attempt in range(2):
                try:
                    await self._items.update_one(query, update, upsert=True)
                    return
                except DuplicateKeyError:
                    continue  # inserted concurrently (then retried), or dismissed

        await asyncio.gather(*(put(i) for i in issues))

    async def resolve_issues(
        self,
        statement_ids: Sequence[str],
        keep: Collection[str],
        now_us: int,
        *,
        reasons: Collection[str] | None = None,
    ) -> int:
        """One update_many over the statements' open items not kept."""
        if not statement_ids:
            return 0
        query: dict[str, Any] = {
            "statement_id": {"$in": list(statement_ids)},
            "state": OPEN,
            "_id": {"$nin": list(keep)},
        }
        if reasons is not None:
            query["reason"] = {"$in": list(reasons)}
        update = {"$set": {"state": RESOLVED, "last_seen_us": now_us}}
        result = await self._items.update_many(query, update)
        return int(result.modified_count)

    async def get_item(self, item_id: str) -> QualityItem | None:
        """One item."""
        doc = await self._items.find_one({"_id": item_id})
        return _item(doc) if doc else None

    async def list_items(
        self,
        state: str | None = OPEN,
        *,
        reason: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[QualityItem]:
        """A page by `_id`."""
        query: dict[str, Any] = {"_id": {"$gt": after or ""}}
        if state is not None:
            query["state"] = state
        if reason is not None:
            query["reason"] = reason
        cursor = self._items.find(query).sort("_id", 1).limit(limit)
        return [_item(doc) async for doc in cursor]

    async def set_state(self, item_ids: Sequence[str], state: str, now_us: int) -> int:
        """Open or dismissed items → `state`."""
        query = {"_id": {"$in": list(item_ids)}, "state": {"$in": [OPEN, DISMISSED], "$ne": state}}
        result = await self._items.update_many(
            query, {"$set": {"state": state, "last_seen_us": now_us}}
        )
        return int(result.modified_count)

    async def reason_counts(self, state: str = OPEN) -> dict[str, int]:
        """Items per reason (an aggregation on the state index)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"state": state}},
            {"$group": {"_id": "$reason", "n": {"$sum": 1}}},
        ]
        found = {d["_id"]: d["n"] async for d in self._items.aggregate(pipeline)}
        return dict(sorted(found.items()))

    async def forget_items(self, statement_ids: Sequence[str], member_id: str) -> int:
        """One delete_many on the statement index, one by member (a scan: erasures are rare)."""
        gone = await self._items.delete_many({"statement_id": {"$in": list(statement_ids)}})
        more = await self._items.delete_many({"member_id": member_id})
        return int(gone.deleted_count) + int(more.deleted_count)
