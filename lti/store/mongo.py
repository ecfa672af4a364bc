"""The LTI stores on the LRS's MongoDB database (collections `lti_*`).

No transactions: every check-and-write below is one single-document operation, atomic on every
deployment (a compare-and-set, or an upsert whose duplicate key tells a concurrent writer won).

Collections and indexes
    lti_platform_keys  `_id` "current"
    lti_tools          `_id` tool id; unique `client_id`; `seq` (creation, µs) for listing
    lti_consumers      `_id` consumer key; `seq`
    lti_used_once      `_id` the value; TTL index on `expires_at` (the server drops expired
                       entries; until it does, an expired entry is taken over by compare-and-set)
    lti_line_items     `_id` line item id; (tool, seq, _id) for listing; `properties` kept as
                       JSON bytes (extension property names are URLs, full of dots)
    lti_scores         `_id` "<line item id>:<user id>"; (line_item, user) for results
    lti_outcomes       `_id` {consumer, link, user}
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import orjson
from bson import Binary
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lrs.errors import BadRequest, Conflict
from lrs.store.engine.mongo import MongoDatabase, translate_errors
from lti.store.base import (
    Consumer,
    LineItem,
    LineItemFilter,
    OutcomeRecord,
    Page,
    PlatformKey,
    ScoreRecord,
    Tool,
)
from lti.store.codec import consumer_doc, consumer_from_doc, tool_doc, tool_from_doc

log = logging.getLogger(__name__)


def _now_us() -> int:
    return time.time_ns() // 1000


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "seq")}


class MongoLTIStore:
    """Every LTI store Protocol on one MongoDB database."""

    def __init__(self, db: MongoDatabase) -> None:
        self._keys = db["lti_platform_keys"]
        self._tools = db["lti_tools"]
        self._consumers = db["lti_consumers"]
        self._once = db["lti_used_once"]
        self._items = db["lti_line_items"]
        self._scores = db["lti_scores"]
        self._outcomes = db["lti_outcomes"]

    async def create_indexes(self) -> None:
        """Create every index the queries use (idempotent)."""
        with translate_errors("create LTI indexes", pass_duplicates=True):
            await self._tools.create_indexes(
                [
                    IndexModel([("client_id", ASCENDING)], unique=True, name="client_id"),
                    IndexModel([("seq", ASCENDING)], name="seq"),
                ]
            )
            await self._consumers.create_indexes([IndexModel([("seq", ASCENDING)], name="seq")])
            await self._once.create_indexes(
                [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]
            )
            await self._items.create_indexes(
                [IndexModel([("tool", ASCENDING), ("seq", ASCENDING), ("_id", ASCENDING)])]
            )
            await self._scores.create_indexes(
                [IndexModel([("line_item", ASCENDING), ("user", ASCENDING)], name="results")]
            )

    # -- platform key --------------------------------------------------------------------------

    async def get_platform_key(self) -> PlatformKey | None:
        """The platform key, if made."""
        with translate_errors("read the platform key", pass_duplicates=True):
            doc = await self._keys.find_one({"_id": "current"})
        return None if doc is None else PlatformKey(**_clean(doc))

    async def add_platform_key(self, key: PlatformKey) -> PlatformKey:
        """Keep the first platform key ever added."""
        fields = {
            "kid": key.kid,
            "private_key_enc": key.private_key_enc,
            "created_at": key.created_at,
        }
        # a duplicate key: a concurrent process stored its key first
        with (
            translate_errors("store the platform key", pass_duplicates=True),
            suppress(DuplicateKeyError),
        ):
            await self._keys.update_one({"_id": "current"}, {"$setOnInsert": fields}, upsert=True)
        stored = await self.get_platform_key()
        assert stored is not None
        return stored

    # -- registrations -------------------------------------------------------------------------

    async def add_tool(self, tool: Tool) -> None:
        """Register a tool."""
        doc = {"_id": tool.id, "seq": _now_us(), **tool_doc(tool)}
        with translate_errors("register the tool", pass_duplicates=True):
            try:
                await self._tools.insert_one(doc)
            except DuplicateKeyError:
                raise Conflict(
                    f"a tool with id {tool.id} or client id {tool.client_id} exists"
                ) from None

    async def get_tool(self, tool_id: str) -> Tool | None:
        """The tool with this id."""
        return await self._one_tool({"_id": tool_id})

    async def find_tool(self, client_id: str) -> Tool | None:
        """The tool with this client id."""
        return await self._one_tool({"client_id": client_id})

    async def _one_tool(self, query: dict[str, Any]) -> Tool | None:
        with translate_errors("read the tool", pass_duplicates=True):
            doc = await self._tools.find_one(query)
        return None if doc is None else tool_from_doc(_clean(doc))

    async def list_tools(self) -> list[Tool]:
        """Every tool, oldest first."""
        with translate_errors("list tools", pass_duplicates=True):
            docs = await self._tools.find({}).sort([("seq", 1), ("_id", 1)]).to_list(None)
        return [tool_from_doc(_clean(d)) for d in docs]

    async def add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer key."""
        doc = {"_id": consumer.key, "seq": _now_us(), **consumer_doc(consumer)}
        with translate_errors("register the consumer", pass_duplicates=True):
            try:
                await self._consumers.insert_one(doc)
            except DuplicateKeyError:
                raise Conflict(f"a consumer with key {consumer.key} exists") from None

    async def get_consumer(self, key: str) -> Consumer | None:
        """The consumer with this key."""
        with translate_errors("read the consumer", pass_duplicates=True):
            doc = await self._consumers.find_one({"_id": key})
        return None if doc is None else consumer_from_doc(_clean(doc))

    async def list_consumers(self) -> list[Consumer]:
        """Every consumer, oldest first."""
        with translate_errors("list consumers", pass_duplicates=True):
            docs = await self._consumers.find({}).sort([("seq", 1), ("_id", 1)]).to_list(None)
        return [consumer_from_doc(_clean(d)) for d in docs]

    # -- replay protection ---------------------------------------------------------------------

    async def use_once(self, key: str, expires_at: int) -> bool:
        """Record a one-time value; False when it is already recorded and not expired."""
        until = datetime.fromtimestamp(expires_at, UTC)
        with translate_errors("record a one-time value", pass_duplicates=True):
            try:
                await self._once.insert_one({"_id": key, "expires_at": until})
                return True
            except DuplicateKeyError:
                now = datetime.now(UTC)
                result = await self._once.update_one(
                    {"_id": key, "expires_at": {"$lt": now}}, {"$set": {"expires_at": until}}
                )
                return result.modified_count == 1

    # -- line items ----------------------------------------------------------------------------

    async def add_line_item(self, item: LineItem) -> None:
        """Store a new line item."""
        doc = {"_id": item.id, "seq": _now_us(), "tool": item.tool_id, **_item_fields(item)}
        with translate_errors("store the line item", pass_duplicates=True):
            await self._items.insert_one(doc)

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

    # -- scores --------------------------------------------------------------------------------

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

    # -- LTI 1.1 outcomes ----------------------------------------------------------------------

    async def get_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str
    ) -> OutcomeRecord | None:
        """The current result."""
        with translate_errors("read the result", pass_duplicates=True):
            doc = await self._outcomes.find_one(
                {"_id": _outcome_id(consumer_key, resource_link_id, user_id)}
            )
        return None if doc is None else _outcome(doc)

    async def put_outcome(self, record: OutcomeRecord) -> OutcomeRecord:
        """Make `record` current, keeping every statement id seen for this result."""
        key = _outcome_id(record.consumer_key, record.resource_link_id, record.user_id)
        with translate_errors("store the result", pass_duplicates=True):
            doc = await self._outcomes.find_one_and_update(
                {"_id": key},
                {
                    "$set": {
                        "score": record.score,
                        "message_id": record.message_id,
                        "received_us": record.received_us,
                    },
                    "$addToSet": {"statement_ids": {"$each": list(record.statement_ids)}},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        return _outcome(doc)

    async def delete_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str, received_us: int
    ) -> bool:
        """Delete the result if unchanged since read."""
        with translate_errors("delete the result", pass_duplicates=True):
            result = await self._outcomes.delete_one(
                {
                    "_id": _outcome_id(consumer_key, resource_link_id, user_id),
                    "received_us": received_us,
                }
            )
        return result.deleted_count == 1


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


def _outcome_id(consumer_key: str, resource_link_id: str, user_id: str) -> dict[str, str]:
    # An _id cannot be an array; a sub-document compares field by field, in this order.
    return {"consumer": consumer_key, "link": resource_link_id, "user": user_id}


def _outcome(doc: dict[str, Any]) -> OutcomeRecord:
    key = doc["_id"]
    return OutcomeRecord(
        consumer_key=key["consumer"],
        resource_link_id=key["link"],
        user_id=key["user"],
        score=doc["score"],
        message_id=doc["message_id"],
        received_us=doc["received_us"],
        statement_ids=tuple(doc["statement_ids"]),
    )
