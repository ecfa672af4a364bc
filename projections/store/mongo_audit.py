"""MongoDB AuditStore: the hash-chained audit log in `audit_log`, `_id` the sequence number.

No transaction: a run of appends is one ordered `insert_many`, and the unique `_id` is the
compare-and-set. Two workers that sealed entries on the same head both try the same `_id`;
the server accepts one and refuses the other with a duplicate key, which stops that worker's
run there (ordered inserts stop at the first error; `nInserted` says how far it got) and the
audit service seals the rest again on the new head. Heads are read from the primary with
majority read concern (the engine's options); a head read stale would only cost a retry, as
the `_id` decides.

Indexes: (type, _id) for `--type`, at_us for `--since`, a unique sparse `origin` (a legacy
line moved in once, however many processes move it). The legacy log (`marketplace_audit`,
unchained) is read until its lines are moved into the chain, then left empty.

Personal parts: collection `audit_personal` (`_id` the part id, indexed by holder); an entry's
part ids (`personal`, JSON text) and `clear` are fields of its own document, written with it
(or, for an entry protected after the fact, by one update conditional on `personal` unset).
The migration's progress is a document of `audit_state`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import BulkWriteError, DuplicateKeyError

from lrs.store.engine.mongo import MongoDatabase, translates_errors
from projections.store.audit import (
    AuditRecord,
    Inserted,
    LegacyAuditEntry,
    PersonalPart,
    dump_object,
    load_object,
    load_optional,
)

LEGACY_COLLECTION = "marketplace_audit"
DUPLICATE_KEY = 11000


def _record(doc: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=doc["_id"],
        at_us=doc.get("at_us", 0),
        type=doc.get("type", ""),
        actor=doc.get("actor", ""),
        subject=doc.get("subject", ""),
        details=load_object(doc.get("details")),
        before=load_optional(doc.get("before")),
        after=load_optional(doc.get("after")),
        prev_hash=doc.get("prev_hash", ""),
        hash=doc.get("hash", ""),
        personal=load_optional(doc.get("personal")),
        clear=bool(doc.get("clear", False)),
    )


def _document(record: AuditRecord) -> dict[str, Any]:
    return {
        "_id": record.seq,
        "at_us": record.at_us,
        "type": record.type,
        "actor": record.actor,
        "subject": record.subject,
        "details": dump_object(record.details),
        "before": dump_object(record.before),
        "after": dump_object(record.after),
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        **({"personal": dump_object(record.personal)} if record.personal is not None else {}),
    }


@translates_errors
class MongoAuditStore:
    """The audit chain in MongoDB."""

    def __init__(self, db: MongoDatabase) -> None:
        self._log = db["audit_log"]
        self._legacy = db[LEGACY_COLLECTION]
        self._parts = db["audit_personal"]
        self._state = db["audit_state"]

    async def create_indexes(self) -> None:
        """Type and time filters; one chain entry per legacy line."""
        await self._log.create_indexes(
            [
                IndexModel([("type", ASCENDING), ("_id", DESCENDING)], name="type"),
                IndexModel([("at_us", ASCENDING)], name="at"),
                IndexModel([("origin", ASCENDING)], name="origin", unique=True, sparse=True),
            ]
        )
        await self._parts.create_indexes([IndexModel([("holder", ASCENDING)], name="holder")])

    async def head(self) -> AuditRecord | None:
        """The newest entry."""
        doc = await self._log.find_one({}, sort=[("_id", DESCENDING)])
        return _record(doc) if doc else None

    async def insert(self, record: AuditRecord, *, origin: str | None = None) -> Inserted:
        """Insert at `record.seq` unless it (or `origin`) is taken."""
        doc = _document(record)
        if origin is not None:
            if await self._log.find_one({"origin": origin}, {"_id": 1}) is not None:
                return Inserted.ORIGIN_EXISTS
            doc["origin"] = origin
        try:
            await self._log.insert_one(doc)
        except DuplicateKeyError:
            if origin is not None and await self._log.find_one({"origin": origin}, {"_id": 1}):
                return Inserted.ORIGIN_EXISTS
            return Inserted.SEQ_TAKEN
        return Inserted.DONE

    async def insert_run(
        self, records: Sequence[AuditRecord], parts: Sequence[PersonalPart] = ()
    ) -> int:
        """The parts, then one ordered `insert_many`: the server stops at the first taken
        `_id`."""
        await self.put_parts(parts)
        if not records:
            return 0
        try:
            await self._log.insert_many([_document(r) for r in records], ordered=True)
        except BulkWriteError as exc:
            codes = {e.get("code") for e in exc.details.get("writeErrors", [])}
            if codes != {DUPLICATE_KEY} or exc.details.get("writeConcernErrors"):
                raise
            return int(exc.details.get("nInserted", 0))
        return len(records)

    async def newest(
        self,
        *,
        limit: int,
        before_seq: int | None = None,
        since_us: int | None = None,
        type: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first, filtered."""
        query: dict[str, Any] = {}
        if before_seq is not None:
            query["_id"] = {"$lt": before_seq}
        if since_us is not None:
            query["at_us"] = {"$gte": since_us}
        if type is not None:
            query["type"] = type
        cursor = self._log.find(query).sort([("_id", DESCENDING)]).limit(limit)
        return [_record(d) for d in await cursor.to_list(None)]

    async def chain(self, after_seq: int, limit: int) -> list[AuditRecord]:
        """In sequence order."""
        cursor = self._log.find({"_id": {"$gt": after_seq}}).sort([("_id", ASCENDING)])
        return [_record(d) for d in await cursor.limit(limit).to_list(None)]

    async def legacy_entries(self, limit: int) -> list[LegacyAuditEntry]:
        """The oldest legacy lines (their `_id` orders lines of one `at_us`)."""
        cursor = self._legacy.find({}).sort([("at_us", ASCENDING), ("_id", ASCENDING)])
        return [
            LegacyAuditEntry(
                d["_id"], d["at_us"], d["action"], d["actor"], d["subject"], d["details"]
            )
            for d in await cursor.limit(limit).to_list(None)
        ]

    async def forget_legacy(self, legacy_ids: Sequence[str]) -> None:
        """Delete the lines."""
        if legacy_ids:
            await self._legacy.delete_many({"_id": {"$in": list(legacy_ids)}})

    async def put_parts(self, parts: Sequence[PersonalPart]) -> None:
        """Upsert each part (single-document upserts, sent together)."""
        await asyncio.gather(
            *(
                self._parts.replace_one(
                    {"_id": p.pid},
                    {"holder": p.holder, "salt": p.salt, "data": dump_object(p.values)},
                    upsert=True,
                )
                for p in parts
            )
        )

    async def parts(self, pids: Sequence[str]) -> dict[str, PersonalPart]:
        """By id, the stored ones."""
        if not pids:
            return {}
        cursor = self._parts.find({"_id": {"$in": list(dict.fromkeys(pids))}})
        return {
            d["_id"]: PersonalPart(d["_id"], d["holder"], d["salt"], _values(d["data"]))
            for d in await cursor.to_list(None)
        }

    async def erase_parts(self, holders: Sequence[str]) -> int:
        """Delete by holder."""
        if not holders:
            return 0
        done = await self._parts.delete_many({"holder": {"$in": list(dict.fromkeys(holders))}})
        return int(done.deleted_count)

    async def protect(self, record: AuditRecord) -> bool:
        """One update, conditional on the entry having no parts yet."""
        done = await self._log.update_one(
            {"_id": record.seq, "personal": None},
            {
                "$set": {
                    "subject": record.subject,
                    "details": dump_object(record.details),
                    "before": dump_object(record.before),
                    "after": dump_object(record.after),
                    "personal": dump_object(record.personal),
                    "clear": record.clear,
                }
            },
        )
        return bool(done.modified_count)

    async def protected_through(self) -> int:
        """From `audit_state`."""
        doc = await self._state.find_one({"_id": _PROTECTED})
        return int(doc["value"]) if doc else 0

    async def set_protected_through(self, seq: int) -> None:
        """Never lowered (`$max`)."""
        await self._state.update_one({"_id": _PROTECTED}, {"$max": {"value": seq}}, upsert=True)


_PROTECTED = "protected_through"


def _values(text: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in load_object(text).items()}
