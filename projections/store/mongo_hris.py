"""MongoDB HrisStore: collections `hris_sources` (`_id` name), `hris_signatures` (`_id` the
signature key; a TTL index on `expires_at` drops them after their replay window) and
`hris_events` (`_id` "<source>\\n<event id>", first insert wins; indexed by the result's
employee id for erasure). Single-document writes but erasure's one `update_many`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.hris import HrisEventRecord, HrisSource


def _event_key(source: str, event_id: str) -> str:
    return f"{source}\n{event_id}"


def _source(doc: dict[str, Any]) -> HrisSource:
    return HrisSource(
        name=doc["_id"],
        salt=doc["salt"],
        created_at=doc["created_at"],
        rotated_at=doc.get("rotated_at"),
        revoked_at=doc.get("revoked_at"),
    )


def _event(doc: dict[str, Any]) -> HrisEventRecord:
    return HrisEventRecord(
        doc["source"], doc["event_id"], doc["digest"], doc["received_at"], doc["result"]
    )


@translates_errors
class MongoHrisStore:
    """HRIS sources, signatures and events in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._sources = db["hris_sources"]
        self._signatures = db["hris_signatures"]
        self._events = db["hris_events"]

    async def create_indexes(self) -> None:
        """Signature expiry (TTL)."""
        await self._signatures.create_indexes(
            [IndexModel([("expires_at", 1)], name="expiry", expireAfterSeconds=0)]
        )
        await self._events.create_indexes(
            [IndexModel([("result.employee_id", 1)], name="employee", sparse=True)]
        )

    async def add_source(self, source: HrisSource) -> bool:
        """Insert unless the name is taken."""
        try:
            await self._sources.insert_one(_source_doc(source))
        except DuplicateKeyError:
            return False
        return True

    async def put_source(self, source: HrisSource) -> None:
        """Insert or replace."""
        await self._sources.replace_one({"_id": source.name}, _source_doc(source), upsert=True)

    async def get_source(self, name: str) -> HrisSource | None:
        """One source."""
        doc = await self._sources.find_one({"_id": name})
        return _source(doc) if doc else None

    async def list_sources(self) -> list[HrisSource]:
        """Every source, by name."""
        return [_source(d) for d in await self._sources.find({}).sort("_id", 1).to_list(None)]

    async def note_signature(self, key: str, expires_us: int, now_us: int) -> bool:
        """Insert unless seen (an expired one still present counts as new: it is replaced)."""
        expires_at = datetime.fromtimestamp(expires_us / 1_000_000, tz=UTC)
        doc = {"_id": key, "expires_us": expires_us, "expires_at": expires_at}
        try:
            await self._signatures.insert_one(doc)
        except DuplicateKeyError:
            result = await self._signatures.replace_one(
                {"_id": key, "expires_us": {"$lt": now_us}}, doc
            )
            return result.modified_count == 1
        return True

    async def get_events(self, source: str, event_ids: Sequence[str]) -> dict[str, HrisEventRecord]:
        """Events received before, by id."""
        if not event_ids:
            return {}
        keys = [_event_key(source, e) for e in dict.fromkeys(event_ids)]
        docs = await self._events.find({"_id": {"$in": keys}}).to_list(None)
        return {d["event_id"]: _event(d) for d in docs}

    async def save_event(self, record: HrisEventRecord) -> HrisEventRecord:
        """Insert unless saved; the saved one."""
        key = _event_key(record.source, record.event_id)
        doc = {
            "_id": key,
            "source": record.source,
            "event_id": record.event_id,
            "digest": record.digest,
            "received_at": record.received_at,
            "result": record.result,
        }
        try:
            await self._events.insert_one(doc)
        except DuplicateKeyError:
            found = await self._events.find_one({"_id": key})
            if found is not None:
                return _event(found)
            raise
        return record

    async def forget_members(self, member_ids: Sequence[str]) -> int:
        """One `update_many` by the employee id index."""
        if not member_ids:
            return 0
        done = await self._events.update_many(
            {"result.employee_id": {"$in": list(dict.fromkeys(member_ids))}},
            {"$set": {"result.employee_id": None, "result.erased": True}},
        )
        return int(done.modified_count)


def _source_doc(source: HrisSource) -> dict[str, Any]:
    return {
        "_id": source.name,
        "salt": source.salt,
        "created_at": source.created_at,
        "rotated_at": source.rotated_at,
        "revoked_at": source.revoked_at,
    }
