"""The LTI gradebook on the LRS's MongoDB database: AGS line items and each user's last score
(collections `lti_line_items` and `lti_scores`, see `lti.store.mongo`)."""

from __future__ import annotations

from typing import Any

import orjson
from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.errors import BadRequest, Conflict
from lrs.store.engine.mongo import MongoDatabase, translate_errors
from lti.store.base import LineItem, LineItemFilter, Page, ScoreRecord
from lti.store.mongo import now_us


class MongoGradebookStore:
    """AGS line items and the last score of each user on each."""

    def __init__(self, db: MongoDatabase) -> None:
        self._items = db["lti_line_items"]
        self._scores = db["lti_scores"]

    async def create_indexes(self) -> None:
        """Create every index the queries use (idempotent)."""
        with translate_errors("create LTI indexes", pass_duplicates=True):
            await self._items.create_indexes(
                [IndexModel([("tool", ASCENDING), ("seq", ASCENDING), ("_id", ASCENDING)])]
            )
            await self._scores.create_indexes(
                [IndexModel([("line_item", ASCENDING), ("user", ASCENDING)], name="results")]
            )

    async def add_line_item(self, item: LineItem) -> None:
        """Store a new line item."""
        doc = {"_id": item.id, "seq": now_us(), "tool": item.tool_id, **_item_fields(item)}
        with translate_errors("store the line item", pass_duplicates=True):
            try:
                await self._items.insert_one(doc)
            except DuplicateKeyError:
                raise Conflict(f"a line item with id {item.id} exists") from None

    async def get_line_item(self, item_id: str) -> LineItem | None:
        """The line item with this id."""
        with translate_errors("read the line item", pass_duplicates=True):
            doc = await self._items.find_one({"_id": item_id})
        return None if doc is None else _line_item(doc)

    async def replace_line_item(self, item: LineItem) -> bool:
        """Replace a line item's properties."""
        with translate_errors("update the line item", pass_duplicates=True):
            result = await self._items.update_one(
                {"_id": item.id, "tool": item.tool_id}, {"$set": _item_fields(item)}
            )
        return result.matched_count == 1

    async def delete_line_item(self, item_id: str) -> bool:
        """Delete a line item, then its scores (a crash between leaves only unreachable scores,
        removed by the next delete of the same id, which cannot happen: ids are never reused)."""
        with translate_errors("delete the line item", pass_duplicates=True):
            result = await self._items.delete_one({"_id": item_id})
            await self._scores.delete_many({"line_item": item_id})
        return result.deleted_count == 1

    async def list_line_items(self, query: LineItemFilter) -> Page:
        """One page of a tool's line items, oldest first."""
        match: dict[str, Any] = {"tool": query.tool_id}
        for field, name in (
            ("resource_link_id", "resourceLinkId"),
            ("resource_id", "resourceId"),
            ("tag", "tag"),
        ):
            value = getattr(query, field)
            if value is not None:
                match[f"f.{name}"] = value
        if query.after is not None:
            seq, item_id = _seq_position(query.after)
            match["$or"] = [{"seq": {"$gt": seq}}, {"seq": seq, "_id": {"$gt": item_id}}]
        with translate_errors("list line items", pass_duplicates=True):
            cursor = self._items.find(match).sort([("seq", 1), ("_id", 1)]).limit(query.limit + 1)
            docs = await cursor.to_list(None)
        more = len(docs) > query.limit
        docs = docs[: query.limit]
        last = docs[-1] if docs else None
        position = f"{last['seq']}:{last['_id']}" if more and last else None
        return Page([_line_item(d) for d in docs], position)

    async def begin_score(self, record: ScoreRecord) -> bool:
        """Accept the score when newer than the stored one (or the same pending one again)."""
        key = f"{record.line_item_id}:{record.user_id}"
        newer_or_retry = [
            {"ts": {"$lt": record.timestamp_us}},
            {"ts": record.timestamp_us, "pending": True, "fp": record.fingerprint},
        ]
        fields = {
            "line_item": record.line_item_id,
            "user": record.user_id,
            "ts": record.timestamp_us,
            "fp": record.fingerprint,
            "pending": record.pending,
            "score": Binary(orjson.dumps(record.score)),
            "statement_ids": list(record.statement_ids),
        }
        with translate_errors("store the score", pass_duplicates=True):
            try:
                await self._scores.update_one(
                    {"_id": key, "$or": newer_or_retry}, {"$set": fields}, upsert=True
                )
            except DuplicateKeyError:
                return False  # a score at least as new is stored
        return True

    async def finish_score(self, line_item_id: str, user_id: str, timestamp_us: int) -> None:
        """Clear `pending` if that score is still the last."""
        with translate_errors("store the score", pass_duplicates=True):
            await self._scores.update_one(
                {"_id": f"{line_item_id}:{user_id}", "ts": timestamp_us},
                {"$set": {"pending": False}},
            )

    async def get_score(self, line_item_id: str, user_id: str) -> ScoreRecord | None:
        """The user's last score on the line item."""
        with translate_errors("read the score", pass_duplicates=True):
            doc = await self._scores.find_one({"_id": f"{line_item_id}:{user_id}"})
        return None if doc is None else _score(doc)

    async def list_scores(
        self, line_item_id: str, *, user_id: str | None, limit: int, after: str | None
    ) -> Page:
        """Last scores on a line item, by user id."""
        match: dict[str, Any] = {"line_item": line_item_id}
        if user_id is not None:
            if after is not None and user_id <= after:
                return Page([], None)
            match["user"] = user_id
        elif after is not None:
            match["user"] = {"$gt": after}
        with translate_errors("list results", pass_duplicates=True):
            cursor = self._scores.find(match).sort([("user", 1)]).limit(limit + 1)
            docs = await cursor.to_list(None)
        more = len(docs) > limit
        records = [_score(d) for d in docs[:limit]]
        return Page(records, records[-1].user_id if more and records else None)


def _item_fields(item: LineItem) -> dict[str, Any]:
    props = item.properties
    filters = {k: props[k] for k in ("resourceLinkId", "resourceId", "tag") if k in props}
    return {"properties": Binary(orjson.dumps(props)), "f": filters}


def _line_item(doc: dict[str, Any]) -> LineItem:
    return LineItem(
        id=doc["_id"], tool_id=doc["tool"], properties=orjson.loads(bytes(doc["properties"]))
    )


def _seq_position(after: str) -> tuple[int, str]:
    seq, _, item_id = after.partition(":")
    try:
        return int(seq), item_id
    except ValueError as exc:
        raise BadRequest("the page cursor is not one this platform issued") from exc


def _score(doc: dict[str, Any]) -> ScoreRecord:
    return ScoreRecord(
        line_item_id=doc["line_item"],
        user_id=doc["user"],
        timestamp_us=doc["ts"],
        score=orjson.loads(bytes(doc["score"])),
        fingerprint=doc["fp"],
        statement_ids=tuple(doc["statement_ids"]),
        pending=bool(doc["pending"]),
    )
