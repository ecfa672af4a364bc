"""MongoDB implementations of the projection's FactStore, WorkStore and AggregateStore.

No multi-document transactions: every step is one atomic single-document write, and the steps
are ordered so that repeating any of them is harmless.

Collections and indexes
    projection_facts    `_id` statement id; (member_id, activity_id), (actor_key),
                        (member_id, _id) for unmatched facts (member_id null)
    projection_leases   `_id` statement id, owner, until_us
    projection_meta     `_id` counter name, value
    marketplace_records `_id` sha256(member \\n activity); unique (member_id, activity_id),
                        (updated_us, member_id, activity_id) for paging, (has_outbox) sparse
    webhook_events      the outbox, `_id` event id (see mongo_delivery.py)
    (identity_members and identity_emails: see mongo_identity.py)

The durable outbox without transactions: a record's change event is pushed onto the record
document's own `outbox` array by the same compare-and-set update that changes the record, so
the change and its event are one atomic write. `publish_events` then copies each event to
`webhook_events` (an upsert by event id: repeatable) and pulls it from the record; a crash
between the two copies it again next time, and the id makes that a no-op. Records and facts
are kept as BSON binary JSON, like statements: badge metadata and extensions have keys that
MongoDB field names cannot hold faithfully.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import orjson
from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.base import (
    Fact,
    OutboxEvent,
    Pair,
    ProjectionProgress,
    RecordPage,
    RecordSave,
    StoredRecord,
)
from projections.store.sqlite import parse_record_position, record_position

_FACT_FIELDS = ("actor_key", "member_id", "activity_id", "stored_us")
_IN_CHUNK = 500  # pairs per query: one `$or` clause per member
_COUNTED = {"member_id": {"$ne": None}, "activity_id": {"$ne": None}, "voided": 0}


def _pairs_clause(pairs: Sequence[Pair]) -> dict[str, Any]:
    """A filter matching any of the pairs: per member, its activities `$in`."""
    by_member: dict[str, list[str]] = {}
    for member_id, activity_id in pairs:
        by_member.setdefault(member_id, []).append(activity_id)
    return {
        "$or": [{"member_id": m, "activity_id": {"$in": acts}} for m, acts in by_member.items()]
    }


def _after_pair(after: Pair) -> dict[str, Any]:
    member_id, activity_id = after
    return {
        "$or": [
            {"member_id": {"$gt": member_id}},
            {"member_id": member_id, "activity_id": {"$gt": activity_id}},
        ]
    }


def _fact(doc: dict[str, Any]) -> Fact:
    return Fact(
        statement_id=doc["_id"],
        actor_key=doc.get("actor_key", ""),
        member_id=doc.get("member_id"),
        activity_id=doc.get("activity_id"),
        stored_us=doc.get("stored_us", 0),
        voided=bool(doc.get("voided")),
        data=orjson.loads(bytes(doc["data"])) if doc.get("data") is not None else {},
    )


@translates_errors
class MongoFactStore:
    """Facts, one document per statement id."""

    def __init__(self, db: MongoDatabase) -> None:
        self._docs = db["projection_facts"]

    def reader(self) -> None:
        """None: another process would need its own client; the worker reads here."""
        return None

    async def create_indexes(self) -> None:
        """The indexes serving pair, actor and unmatched lookups."""
        await self._docs.create_indexes(
            [
                IndexModel([("member_id", ASCENDING), ("activity_id", ASCENDING)], name="pair"),
                IndexModel([("actor_key", ASCENDING)], name="actor"),
                IndexModel([("member_id", ASCENDING), ("_id", ASCENDING)], name="unmatched"),
            ]
        )

    async def put_facts(self, facts: Sequence[Fact], voiding: Sequence[str] = ()) -> list[Fact]:
        """Upsert each fact; `$max` keeps voided set. Then void `voiding`."""

        async def put(fact: Fact) -> None:
            fields = {k: getattr(fact, k) for k in _FACT_FIELDS}
            fields["data"] = Binary(orjson.dumps(fact.data))
            update = {"$set": fields, "$max": {"voided": int(fact.voided)}}
            try:
                await self._docs.update_one({"_id": fact.statement_id}, update, upsert=True)
            except DuplicateKeyError:  # a concurrent upsert inserted it first: now it exists
                await self._docs.update_one({"_id": fact.statement_id}, update, upsert=True)

        await asyncio.gather(*(put(f) for f in facts))
        return await self.void_facts(voiding)

    async def replace_facts(
        self, facts: Sequence[Fact], voiding: Sequence[str] = ()
    ) -> tuple[dict[str, Fact], list[Fact]]:
        """Read, then put."""
        before = await self.get_facts([f.statement_id for f in facts])
        return before, await self.put_facts(facts, voiding)

    async def get_facts(self, ids: Sequence[str]) -> dict[str, Fact]:
        """The facts among ids."""
        if not ids:
            return {}
        docs = await self._docs.find({"_id": {"$in": list(dict.fromkeys(ids))}}).to_list(None)
        return {d["_id"]: _fact(d) for d in docs}

    async def void_facts(self, ids: Sequence[str]) -> list[Fact]:
        """Voided, with tombstones for unknown ids."""
        unique = list(dict.fromkeys(ids))

        async def void(statement_id: str) -> None:
            update = {
                "$set": {"voided": 1},
                "$setOnInsert": {"actor_key": "", "member_id": None, "activity_id": None},
            }
            try:
                await self._docs.update_one({"_id": statement_id}, update, upsert=True)
            except DuplicateKeyError:
                await self._docs.update_one({"_id": statement_id}, update, upsert=True)

        await asyncio.gather(*(void(i) for i in unique))
        return list((await self.get_facts(unique)).values())

    async def facts_for_pairs(self, pairs: Sequence[Pair]) -> dict[Pair, list[Fact]]:
        """Non-voided facts per pair, one query (on the pair index) per chunk of pairs."""
        unique = list(dict.fromkeys(pairs))
        found: dict[Pair, list[Fact]] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            query = {"voided": 0, **_pairs_clause(unique[start : start + _IN_CHUNK])}
            for doc in await self._docs.find(query).sort("_id", ASCENDING).to_list(None):
                fact = _fact(doc)
                found.setdefault((doc["member_id"], doc["activity_id"]), []).append(fact)
        return found

    async def facts_for_actors(self, actor_keys: Sequence[str]) -> list[Fact]:
        """Non-voided facts of these actors."""
        if not actor_keys:
            return []
        query = {"actor_key": {"$in": list(dict.fromkeys(actor_keys))}, "voided": 0}
        cursor = self._docs.find(query).sort("_id", ASCENDING)
        return [_fact(d) for d in await cursor.to_list(None)]

    def _unmatched(self) -> dict[str, Any]:
        return {"member_id": None, "activity_id": {"$ne": None}, "voided": 0}

    async def unmatched_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Unmatched facts by statement id."""
        query = {**self._unmatched(), "_id": {"$gt": after or ""}}
        cursor = self._docs.find(query).sort("_id", ASCENDING).limit(limit)
        return [_fact(d) for d in await cursor.to_list(None)]

    async def count_unmatched(self) -> int:
        """How many facts wait for an identity."""
        return await self._docs.count_documents(self._unmatched())

    async def unmatched_counts(self) -> dict[str, int]:
        """Unmatched facts per actor key."""
        pipeline = [
            {"$match": self._unmatched()},
            {"$group": {"_id": "$actor_key", "n": {"$sum": 1}}},
        ]
        return {d["_id"]: d["n"] async for d in self._docs.aggregate(pipeline)}

    async def counted_facts(self, limit: int, after: str | None = None) -> list[Fact]:
        """Facts that count towards a record, by statement id."""
        query = {**_COUNTED, "_id": {"$gt": after or ""}}
        cursor = self._docs.find(query).sort("_id", ASCENDING).limit(limit)
        return [_fact(d) for d in await cursor.to_list(None)]

    async def counted_pairs(self, limit: int, after: Pair | None = None) -> list[Pair]:
        """Distinct pairs of counted facts, walking the pair index past each pair's facts."""
        found: list[Pair] = []
        while len(found) < limit:
            query = {**_COUNTED, **(_after_pair(after) if after else {})}
            order = [("member_id", ASCENDING), ("activity_id", ASCENDING)]
            cursor = self._docs.find(query, {"member_id": 1, "activity_id": 1}).sort(order)
            docs = await cursor.limit(limit).to_list(None)
            for doc in docs:
                pair = (doc["member_id"], doc["activity_id"])
                if not found or found[-1] != pair:
                    found.append(pair)
            if len(docs) < limit:
                break
            after = found[-1]
        return found[:limit]

    async def delete_facts(self, ids: Sequence[str]) -> None:
        """Forget facts."""
        if ids:
            await self._docs.delete_many({"_id": {"$in": list(ids)}})


@translates_errors
class MongoWorkStore:
    """Leases (one document per leased statement) and progress counters."""

    def __init__(self, db: MongoDatabase) -> None:
        self._leases = db["projection_leases"]
        self._meta = db["projection_meta"]

    async def claim(self, ids: Sequence[str], owner: str, now_us: int, lease_us: int) -> set[str]:
        """Each id: take it if free, expired or already ours (one atomic upsert per id)."""

        async def take(statement_id: str) -> None:
            free = {"_id": statement_id, "$or": [{"until_us": {"$lte": now_us}}, {"owner": owner}]}
            lease = {"$set": {"owner": owner, "until_us": now_us + lease_us}}
            # no match and the id exists: the upsert's insert fails, someone else holds it
            with suppress(DuplicateKeyError):
                await self._leases.update_one(free, lease, upsert=True)

        unique = list(dict.fromkeys(ids))
        await asyncio.gather(*(take(i) for i in unique))
        mine = self._leases.find({"_id": {"$in": unique}, "owner": owner}, {"_id": 1})
        return {d["_id"] for d in await mine.to_list(None)}

    async def release(self, ids: Sequence[str], owner: str) -> None:
        """Drop the owner's leases."""
        if ids:
            await self._leases.delete_many({"_id": {"$in": list(ids)}, "owner": owner})

    async def note_applied(self, stored_us: int, count: int) -> None:
        """Advance the progress counters."""
        await self._meta.update_one(
            {"_id": "last_applied_stored_us"}, {"$max": {"value": stored_us}}, upsert=True
        )
        await self._meta.update_one({"_id": "applied"}, {"$inc": {"value": count}}, upsert=True)

    async def progress(self) -> ProjectionProgress:
        """Progress so far."""
        docs = {d["_id"]: d["value"] async for d in self._meta.find({})}
        return ProjectionProgress(docs.get("last_applied_stored_us"), docs.get("applied", 0))


def pair_id(member_id: str, activity_id: str) -> str:
    """The `_id` of a record: a hash, so any ids fit."""
    return hashlib.sha256(f"{member_id}\n{activity_id}".encode()).hexdigest()


def _record(doc: dict[str, Any]) -> StoredRecord:
    record = doc.get("record")
    return StoredRecord(
        member_id=doc["member_id"],
        activity_id=doc["activity_id"],
        rev=doc["rev"],
        version=doc["version"],
        record=orjson.loads(bytes(record)) if record is not None else None,
        updated_us=doc["updated_us"],
    )


def event_doc(event: OutboxEvent) -> dict[str, Any]:
    """An outbox event as a document."""
    return {
        "id": event.id,
        "type": event.type,
        "member_id": event.member_id,
        "activity_id": event.activity_id,
        "occurred_us": event.occurred_us,
        "body": Binary(event.body),
    }


@translates_errors
class MongoAggregateStore:
    """Records with compare-and-set on `rev`; events ride in the record document."""

    def __init__(self, db: MongoDatabase) -> None:
        self._docs = db["marketplace_records"]
        self._events = db["webhook_events"]
        self._deliveries = db["webhook_deliveries"]

    async def create_indexes(self) -> None:
        """Pair lookups, paging by update time, unpublished events."""
        await self._docs.create_indexes(
            [
                IndexModel(
                    [("member_id", ASCENDING), ("activity_id", ASCENDING)],
                    name="pair",
                    unique=True,
                ),
                IndexModel(
                    [("updated_us", ASCENDING), ("member_id", ASCENDING), ("activity_id", 1)],
                    name="updated",
                ),
                IndexModel([("has_outbox", ASCENDING)], name="outbox", sparse=True),
            ]
        )

    async def get_record(self, member_id: str, activity_id: str) -> StoredRecord | None:
        """One record or tombstone."""
        doc = await self._docs.find_one({"_id": pair_id(member_id, activity_id)})
        return _record(doc) if doc else None

    async def save_record(
        self,
        member_id: str,
        activity_id: str,
        *,
        expected_rev: int,
        record: dict[str, Any] | None,
        version: int,
        now_us: int,
        event: OutboxEvent | None,
        quiet: bool = False,
    ) -> bool:
        """One atomic write: insert (rev 0) or update where rev matches."""
        key = pair_id(member_id, activity_id)
        body = Binary(orjson.dumps(record)) if record is not None else None
        fields = {"version": version, "record": body, "updated_us": now_us}
        if expected_rev == 0:
            doc = {"_id": key, "member_id": member_id, "activity_id": activity_id, "rev": 1}
            doc.update(fields)
            if event is not None:
                doc.update(outbox=[event_doc(event)], has_outbox=True)
            try:
                await self._docs.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        update: dict[str, Any] = {"$set": {"rev": expected_rev + 1}}
        if event is not None or quiet:
            update["$set"].update(fields)
        if event is not None:
            update["$set"]["has_outbox"] = True
            update["$push"] = {"outbox": event_doc(event)}
        result = await self._docs.update_one({"_id": key, "rev": expected_rev}, update)
        return result.matched_count == 1

    async def get_records(self, pairs: Sequence[Pair]) -> dict[Pair, StoredRecord]:
        """Records or tombstones among the pairs, by their ids."""
        keys = [pair_id(m, a) for m, a in dict.fromkeys(pairs)]
        found: dict[Pair, StoredRecord] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            query = {"_id": {"$in": keys[start : start + _IN_CHUNK]}}
            for doc in await self._docs.find(query, {"outbox": 0}).to_list(None):
                found[(doc["member_id"], doc["activity_id"])] = _record(doc)
        return found

    async def save_records(self, saves: Sequence[RecordSave]) -> set[Pair]:
        """Each save its own atomic single-document write, all of them sent at once."""

        async def save(s: RecordSave) -> bool:
            return await self.save_record(
                s.member_id,
                s.activity_id,
                expected_rev=s.expected_rev,
                record=s.record,
                version=s.version,
                now_us=s.now_us,
                event=s.event,
                quiet=s.quiet,
            )

        saved = await asyncio.gather(*(save(s) for s in saves))
        return {s.pair for s, ok in zip(saves, saved, strict=True) if ok}

    async def member_records(self, member_id: str) -> list[StoredRecord]:
        """A member's live records."""
        query = {"member_id": member_id, "record": {"$ne": None}}
        cursor = self._docs.find(query, {"outbox": 0}).sort("activity_id", ASCENDING)
        return [_record(d) for d in await cursor.to_list(None)]

    async def page_records(
        self,
        *,
        after: str | None = None,
        since_us: int | None = None,
        limit: int = 100,
        include_removed: bool = False,
    ) -> RecordPage:
        """Records by (updated_us, member, activity)."""
        clauses: list[dict[str, Any]] = []
        if not include_removed:
            clauses.append({"record": {"$ne": None}})
        if since_us is not None:
            clauses.append({"updated_us": {"$gt": since_us}})
        if after is not None:
            at, member, activity = parse_record_position(after)
            clauses.append(
                {
                    "$or": [
                        {"updated_us": {"$gt": at}},
                        {"updated_us": at, "member_id": {"$gt": member}},
                        {"updated_us": at, "member_id": member, "activity_id": {"$gt": activity}},
                    ]
                }
            )
        order = [("updated_us", ASCENDING), ("member_id", ASCENDING), ("activity_id", ASCENDING)]
        query = {"$and": clauses} if clauses else {}
        cursor = self._docs.find(query, {"outbox": 0}).sort(order).limit(limit + 1)
        docs = await cursor.to_list(None)
        records = [_record(d) for d in docs[:limit]]
        more = len(docs) > limit and records
        return RecordPage(records, record_position(records[-1]) if more else None)

    async def count_records(self, since_us: int | None = None) -> int:
        """Live records updated after since_us."""
        query: dict[str, Any] = {"record": {"$ne": None}}
        if since_us is not None:
            query["updated_us"] = {"$gt": since_us}
        return await self._docs.count_documents(query)

    async def add_events(self, events: Sequence[OutboxEvent]) -> int:
        """Member events straight into the outbox collection, those already there skipped."""
        added = 0
        for event in events:
            fields = {k: v for k, v in event_doc(event).items() if k != "id"}
            with suppress(DuplicateKeyError):  # a concurrent add of the same event
                result = await self._events.update_one(
                    {"_id": event.id}, {"$setOnInsert": {**fields, "fanned": False}}, upsert=True
                )
                added += 1 if result.upserted_id is not None else 0
        return added

    async def erase_member(self, member_id: str) -> tuple[int, int]:
        """Records (with the events riding in them), outbox events and their deliveries of
        the member, gone; deliveries first, so a run cut short is finished by running again."""
        ids = [d["_id"] async for d in self._events.find({"member_id": member_id}, {"_id": 1})]
        if ids:
            await self._deliveries.delete_many({"event_id": {"$in": ids}})
        events = (await self._events.delete_many({"_id": {"$in": ids}})).deleted_count
        records = (await self._docs.delete_many({"member_id": member_id})).deleted_count
        return records, events

    async def settle_erasure(self) -> None:
        """Nothing: deleted documents are not readable through the database."""

    async def publish_events(self, limit: int = 500) -> int:
        """Copy events from record documents to the outbox, then pull them (repeatable)."""
        moved = 0
        cursor = self._docs.find({"has_outbox": True}, {"outbox": 1}).limit(limit)
        for doc in await cursor.to_list(None):
            events = doc.get("outbox") or []
            for event in events:
                fields = {k: v for k, v in event.items() if k != "id"}
                with suppress(DuplicateKeyError):  # another publisher copied it first
                    await self._events.update_one(
                        {"_id": event["id"]},
                        {"$setOnInsert": {**fields, "fanned": False}},
                        upsert=True,
                    )
            ids = [e["id"] for e in events]
            await self._docs.update_one(
                {"_id": doc["_id"]}, {"$pull": {"outbox": {"id": {"$in": ids}}}}
            )
            await self._docs.update_one(
                {"_id": doc["_id"], "outbox": {"$size": 0}},
                {"$unset": {"has_outbox": "", "outbox": ""}},
            )
            moved += len(events)
        return moved
