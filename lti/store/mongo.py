"""The LTI stores on the LRS's MongoDB database (collections `lti_*`): the platform key,
registrations and one-time values here; the gradebook in `mongo_gradebook`, LTI 1.1 outcomes in
`mongo_outcomes`.

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

import time
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lrs.errors import Conflict, StoreUnavailable
from lrs.store.engine.mongo import MongoDatabase, translate_errors
from lti.store.base import Consumer, PlatformKey, Tool
from lti.store.codec import consumer_doc, consumer_from_doc, tool_doc, tool_from_doc


def now_us() -> int:
    """Microseconds since the epoch: the `seq` that orders listings by creation."""
    return time.time_ns() // 1000


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "seq")}


class MongoPlatformKeyStore:
    """The platform's signing key: one document, the first key ever added."""

    def __init__(self, db: MongoDatabase) -> None:
        self._keys = db["lti_platform_keys"]

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
        # One write answers with the key kept, so no (possibly stale) second read decides.
        with translate_errors("store the platform key", pass_duplicates=True):
            for _attempt in range(2):
                with suppress(DuplicateKeyError):  # a concurrent process stored its key first
                    doc = await self._keys.find_one_and_update(
                        {"_id": "current"},
                        {"$setOnInsert": fields},
                        upsert=True,
                        return_document=ReturnDocument.AFTER,
                    )
                    if doc is not None:
                        return PlatformKey(**_clean(doc))
        raise StoreUnavailable("the store could not keep the platform key; retry")


class MongoRegistrationStore:
    """Registered LTI 1.3 tools and LTI 1.1 consumers."""

    def __init__(self, db: MongoDatabase) -> None:
        self._tools = db["lti_tools"]
        self._consumers = db["lti_consumers"]

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

    async def add_tool(self, tool: Tool) -> None:
        """Register a tool."""
        doc = {"_id": tool.id, "seq": now_us(), **tool_doc(tool)}
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
        doc = {"_id": consumer.key, "seq": now_us(), **consumer_doc(consumer)}
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

    async def disable_tool(self, tool_id: str, at: str) -> bool:
        """Set the tool's `disabled_at` (unless set): one conditional update."""
        return await self._disable(self._tools, tool_id, at)

    async def disable_consumer(self, key: str, at: str) -> bool:
        """Set the consumer's `disabled_at` (unless set): one conditional update."""
        return await self._disable(self._consumers, key, at)

    async def _disable(self, collection: Any, doc_id: str, at: str) -> bool:
        with translate_errors("disable the registration", pass_duplicates=True):
            done = await collection.update_one(
                {"_id": doc_id, "disabled_at": None}, {"$set": {"disabled_at": at}}
            )
            if done.matched_count:
                return True
            return await collection.find_one({"_id": doc_id}, {"_id": 1}) is not None


class MongoReplayStore:
    """One-time values until they expire (a TTL index drops expired ones)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._once = db["lti_used_once"]

    async def create_indexes(self) -> None:
        """Create the TTL index that lets the server drop expired values (idempotent)."""
        with translate_errors("create LTI indexes", pass_duplicates=True):
            await self._once.create_indexes(
                [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]
            )

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
