"""MongoDB implementations of the xAPI core stores: statements, credentials, attachments.

Only this module imports motor and pymongo. It uses no multi-document transactions and no
change streams, so the same code runs on a single node, a replica set, a sharded cluster and
mongomock-motor in the tests. Reads go to the primary with read concern majority, writes use
majority journaled write concern with a bounded wtimeout, whatever the URI says (see
`lrs.store.engine.mongo`); every read sorts explicitly.

Statement documents (`statements` collection, see `StatementDoc`)
    `_id` is the statement id. `raw` is the statement exactly as clients get it back, kept as
    opaque BSON binary: a statement's extensions are objects keyed by IRIs, full of `.` and
    sometimes starting with `$`, which MongoDB field names cannot hold faithfully and which
    would make the JSON hostage to BSON's key order and number types. Stored as bytes, they come
    back byte for byte. Queries never look inside `raw`: the keys a statement answers to are
    copied beside it as arrays of values under `idx.<kind>` (agents, verbs, activities...), so
    IRIs are values, never field names. Beside them: `stored_us`, `voided`, `voids` and `ref`
    (the last two only when set) and `pending` while the statement's batch is being written.

Indexes (created at open; each query shape has one: see `lrs.store.mongo_query`)
    `stored`       (stored_us, _id)                unfiltered pages, `last_stored_us`
    `idx_<kind>`   (idx.<kind>, stored_us, _id)    one per filter kind, multikey; the equality
                                                   picks the key and the index gives the order;
                                                   a query hints that of its most selective key
    `voids`        (voids) sparse                  voiding lookups at insert
    `pending`      (pending) sparse                unfinished batches (crash recovery)
    `awaiting`     (awaiting, stored_us, _id)      statements awaiting projection, partial on
                                                   `awaiting: true` (set at insert, cleared by
                                                   the projection worker)
    credentials: `created` (created_at, _id)       listing oldest first

All or nothing without transactions (`statement_batches` collection, see `BatchDoc`)
    A call to `insert_statements` is one batch with a random token:
    1. read the ids (the cheap pre-check: taken ids end the call with `stored=False`);
    2. insert the batch document, state `pending`, dated by the server (`$currentDate`), with
       the ids, the voiding targets and the activity definitions to merge;
    3. insert every statement with `pending: <token>`; queries and `get_statements` ignore
       pending statements. A duplicate key here (a concurrent request won the race) deletes
       this batch's statements and batch document, then goes back to 1;
    4. commit: one single-document compare-and-set of the batch from `pending` to
       `committed`. This is the commit point, atomic on every deployment;
    5. roll forward: mark the voiding targets voided, mark this batch's statements that a
       committed voiding statement targets, clear `pending` (one `update_many`), merge the
       activity definitions, delete the batch document. Every step is idempotent, so anyone
       may repeat it, definitions included (with the writer's create-only or define rule,
       recorded in the batch).
    After a crash (or a lost connection) the outcome depends only on the batch document:
    - before 4, or a batch still `pending` after `pending_timeout_s` by the server's clock:
      it is dead. Whoever meets it (a retry of the same ids, `get_statements`, or the sweep)
      aborts it with ONE write, an upsert setting `aborted` unless `committed` (a duplicate
      key means committed; no read decides), and deletes its statements. A retry of
      the same ids is therefore never blocked by a crashed attempt for longer than the timeout;
      meanwhile it waits up to `wait_s` and then answers `StoreUnavailable` (503).
      A writer slower than the timeout finds its own commit refused and reports
      `StoreUnavailable`; the compare-and-set makes commit and abort exclusive.
    - after 4: the batch is stored. Whoever meets it rolls it forward (the sweep at open and
      every `recovery_interval_s` after (`lrs.store.mongo_recovery`), a
      retry with the same ids, which then gets `stored=False` and the now stored statements,
      or `get_statements`). The client saw an error and its retry is answered as a repeat.
    The server's time is read by stamping the one document of `server_clock` ($currentDate),
    which works on every deployment and on mongomock (which has no `$$NOW`).
    Statements whose batch document is gone while they are still pending are leftovers of an
    aborted batch and are deleted the same way. While step 5 runs, readers may briefly see part
    of a committed batch; what is stored is never partial.

Order and pages
    Pages are sorted by (stored_us, _id), a total order, and the position is that pair of the
    last statement returned, so a page starts exactly after it whatever is inserted meanwhile.
    Unlike SQLite's single writer, several processes assign `stored` before their write lands,
    so an ascending pager already past a stored time can miss a statement committed later with
    an earlier one; the statements visible when paging began are never missed or repeated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import orjson
from bson import Binary
from bson.errors import InvalidDocument
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from lrs.errors import Conflict, StoreUnavailable
from lrs.model.attachments import Attachment
from lrs.model.credentials import Credential
from lrs.model.erasure import ErasedPage, StatementRewrite
from lrs.model.statements import (
    INDEX_KINDS,
    AwaitingPage,
    DefinitionMerge,
    DefinitionUpdate,
    InsertOutcome,
    StatementFilter,
    StatementIndex,
    StatementPage,
    StatementRecord,
    StoredStatement,
)
from lrs.store.base import ActivityStore
from lrs.store.engine.mongo import (
    MongoDatabase,
    client_options,
    database_options,
    translate_errors,
)
from lrs.store.mongo_activities import MongoActivityStore
from lrs.store.mongo_documents import MongoDocumentStore
from lrs.store.mongo_erasure import erase_agent_page
from lrs.store.mongo_query import (
    STORED_INDEX,
    index_keys,
    kind_index,
    parse_position,
    query_filter,
    query_plan,
    stored_order,
)
from lrs.store.mongo_recovery import RecoveryLoop
from lrs.xapi.activities import merger
from lrs.xapi.voiding import voided_ids

log = logging.getLogger(__name__)

PENDING, COMMITTED, ABORTED = "pending", "committed", "aborted"
_DUPLICATE_KEY = 11000
# what can fail a batch's insert: driver errors, and BSON's own (a document over 16 MiB, an
# integer outside 64 bits), which are no PyMongoError; the batch is rolled back, then re-raised
_WRITE_FAILURES = (PyMongoError, InvalidDocument, OverflowError)


class StatementDoc(TypedDict):
    """One statement in the `statements` collection."""

    _id: str
    raw: bytes
    stored_us: int
    voided: bool
    idx: dict[str, list[str]]
    voids: NotRequired[str]
    ref: NotRequired[str]
    pending: NotRequired[str]  # the token of the batch still writing it
    awaiting: NotRequired[bool]  # not yet projected (cleared by `mark_projected`)


class BatchDoc(TypedDict):
    """One insert_statements call being written, in `statement_batches`."""

    _id: str  # the token
    state: str  # pending | committed | aborted
    at: NotRequired[datetime]  # when the writer started, by the server's clock ($currentDate)
    ids: list[str]
    targets: list[str]  # ids the batch's voiding statements target
    definitions: NotRequired[bytes]  # JSON {activity id: definition}, merged at roll-forward
    define: NotRequired[bool]  # whether they may change a stored definition (`merger`)


class CredentialDoc(TypedDict):
    """One API credential in `credentials`."""

    _id: str
    name: str
    scopes: list[str]
    secret_hash: str
    created_at: str
    revoked: bool


def _now_us() -> int:
    return time.time_ns() // 1000


def _only_duplicates(exc: PyMongoError) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if not isinstance(exc, BulkWriteError):
        return False
    details = exc.details or {}
    errors = details.get("writeErrors") or []
    return (
        bool(errors)
        and not details.get("writeConcernErrors")
        and all(e.get("code") == _DUPLICATE_KEY for e in errors)
    )


def _document(record: StatementRecord, token: str) -> StatementDoc:
    idx = {
        kind: list(dict.fromkeys(keys))
        for kind in INDEX_KINDS
        if (keys := getattr(record.index, kind))
    }
    doc: StatementDoc = {
        "_id": record.id,
        "raw": bytes(record.raw),
        "stored_us": record.stored_us,
        "voided": False,
        "idx": idx,
        "pending": token,
        "awaiting": True,  # awaiting projection, from this insert on (`awaiting_projection`)
    }
    if record.voids is not None:
        doc["voids"] = record.voids
    if record.ref is not None:
        doc["ref"] = record.ref
    return doc


def _may_define(merge: DefinitionMerge) -> bool:
    """Whether a `lrs.xapi.activities.merger` merge may change a stored definition: the
    create-only one keeps what is stored (recorded so another process repeats the same one)."""
    return merge({}, {"name": {"und": "?"}}) != {}


def _batch(
    token: str, records: Sequence[StatementRecord], definitions: DefinitionUpdate | None
) -> BatchDoc:
    batch: BatchDoc = {
        "_id": token,
        "state": PENDING,
        "ids": [r.id for r in records],
        "targets": list(dict.fromkeys(r.voids for r in records if r.voids is not None)),
    }
    if definitions is not None and definitions.encoded:
        batch["definitions"] = Binary(orjson.dumps(definitions.definitions))
        batch["define"] = _may_define(definitions.merge)
    return batch


def _stored(doc: dict[str, Any]) -> StoredStatement:
    idx = doc.get("idx") or {}
    return StoredStatement(
        id=doc["_id"],
        raw=bytes(doc["raw"]),
        stored_us=doc["stored_us"],
        voided=bool(doc["voided"]),
        index=StatementIndex.of(**{kind: idx.get(kind, ()) for kind in INDEX_KINDS}),
        voids=doc.get("voids"),
    )


def _position(doc: dict[str, Any]) -> str:
    return f"{doc['stored_us']}:{doc['_id']}"


class MongoStatementStore:
    """Statements in MongoDB; see the module docstring for documents, indexes and batches."""

    pending_timeout_s: float = 30.0  # a batch pending longer than this is dead
    wait_s: float = 5.0  # how long an insert waits for a live batch holding its ids

    def __init__(self, db: AsyncIOMotorDatabase, activities: ActivityStore) -> None:
        self._docs = db["statements"]
        self._batches = db["statement_batches"]
        self._clock = db["server_clock"]
        self._activities = activities

    async def create_indexes(self) -> None:
        """Create the index serving each query shape (idempotent)."""
        order = stored_order()
        models = [IndexModel(index_keys(STORED_INDEX), name=STORED_INDEX)]
        models += [IndexModel(index_keys(kind_index(k)), name=kind_index(k)) for k in INDEX_KINDS]
        models.append(IndexModel([("voids", ASCENDING)], name="voids", sparse=True))
        models.append(IndexModel([("pending", ASCENDING)], name="pending", sparse=True))
        models.append(
            IndexModel(
                [("awaiting", ASCENDING), *order],
                name="awaiting",
                partialFilterExpression={"awaiting": True},
            )
        )
        await self._docs.create_indexes(models)

    async def recover(self) -> None:
        """Roll committed batches forward and dead ones back (at open, then periodically)."""
        tokens = {b["_id"] async for b in self._batches.find({}, {"_id": 1})}
        # the predicate lets the sparse `pending` index answer, not a collection scan
        tokens.update(await self._docs.distinct("pending", {"pending": {"$exists": True}}))
        for token in tokens:
            await self._resolve(token)

    async def insert_statements(
        self, records: Sequence[StatementRecord], definitions: DefinitionUpdate | None = None
    ) -> InsertOutcome:
        """Store every record or none (see the module docstring for how); the activity
        definitions they carry ride in the batch document and are merged at its roll-forward
        (derived data: after the statements, never before, and by whoever rolls it forward)."""
        if not records:
            return InsertOutcome(stored=True)
        ids = [r.id for r in records]
        if len(set(ids)) != len(ids):
            raise ValueError("a batch must not repeat a statement id")
        with translate_errors("store the statements"):
            deadline = time.monotonic() + self.wait_s
            pause = 0.01
            while True:
                existing, in_flight = await self._settled(ids)
                if existing:
                    return InsertOutcome(stored=False, existing=existing)
                if not in_flight and await self._write(records, definitions):
                    return InsertOutcome(stored=True)
                if time.monotonic() > deadline:
                    raise StoreUnavailable("another request is still writing these statements")
                # a live batch holds the ids, or one won the race: back off before looking again
                await asyncio.sleep(pause * random.uniform(0.5, 1.0))
                pause = min(pause * 2, 0.25)

    async def get_statements(self, ids: Sequence[str]) -> dict[str, StoredStatement]:
        """The stored statements among `ids`, voided or not."""
        if not ids:
            return {}
        with translate_errors("read statements"):
            existing, _in_flight = await self._settled(list(dict.fromkeys(ids)))
        return existing

    async def query_statements(self, query: StatementFilter) -> StatementPage:
        """One page of non-voided statements matching the filter, sorted by (stored_us, _id)."""
        if query.limit < 1:  # as on SQLite; and MongoDB would read limit(0) as "no limit"
            return StatementPage(statements=[], next_position=None)
        plan = query_plan(query)
        with translate_errors("query statements"):
            cursor = (
                self._docs.find(plan.filter, {"raw": 1, "stored_us": 1})
                .sort(plan.sort)
                .hint(plan.hint)
                .limit(query.limit + 1)
            )
            docs = await cursor.to_list(length=query.limit + 1)
        more = len(docs) > query.limit
        docs = docs[: query.limit]
        return StatementPage(
            statements=[bytes(d["raw"]) for d in docs],
            next_position=_position(docs[-1]) if more else None,
        )

    async def last_stored_us(self) -> int | None:
        """Stored time of the newest statement (voided ones included, as on SQLite)."""
        with translate_errors("read statements"):
            doc = await self._docs.find_one(
                {"pending": {"$exists": False}},
                {"stored_us": 1},
                sort=[("stored_us", DESCENDING), ("_id", DESCENDING)],
            )
        return None if doc is None else doc["stored_us"]

    async def stored_counts(self, since_us: int, bucket_us: int, buckets: int) -> list[int]:
        """One indexed count per period (a few dozen for a chart; committed statements only)."""
        counts = []
        with translate_errors("count statements"):
            for n in range(buckets):
                start = since_us + n * bucket_us
                window = {"$gte": start, "$lt": start + bucket_us}
                query = {"stored_us": window, "pending": {"$exists": False}}
                counts.append(await self._docs.count_documents(query))
        return counts

    async def awaiting_projection(self, limit: int, after: str | None = None) -> AwaitingPage:
        """Committed statements still marked awaiting, by (stored_us, _id), one page.

        Statements of a batch still being written are not listed until it commits; several
        writers make stored order differ from commit order, which is why the mark, not a
        position, says what is left.
        """
        clauses: list[dict[str, Any]] = [{"awaiting": True}, {"pending": {"$exists": False}}]
        if after is not None:
            stored_us, sid = parse_position(after)
            clauses.append({"stored_us": {"$gte": stored_us}})
            clauses.append({"$or": [{"stored_us": {"$gt": stored_us}}, {"_id": {"$gt": sid}}]})
        with translate_errors("read statements awaiting projection"):
            cursor = (
                self._docs.find({"$and": clauses})
                .sort([("stored_us", ASCENDING), ("_id", ASCENDING)])
                .limit(limit + 1)
            )
            docs = await cursor.to_list(length=limit + 1)
        page = docs[:limit]
        return AwaitingPage(
            statements=[_stored(d) for d in page],
            next_position=_position(page[-1]) if len(docs) > limit else None,
        )

    async def mark_projected(self, ids: Sequence[str]) -> None:
        """Clear the awaiting mark (one update_many; repeatable)."""
        if not ids:
            return
        with translate_errors("mark statements projected"):
            await self._docs.update_many(
                {"_id": {"$in": list(dict.fromkeys(ids))}}, {"$unset": {"awaiting": ""}}
            )

    async def erase_agent_page(
        self,
        keys: Sequence[str],
        rewrite: StatementRewrite,
        *,
        replacement: str | None,
        delete: bool,
        limit: int,
    ) -> ErasedPage:
        """One page of erasure (`lrs.store.mongo_erasure`)."""
        return await erase_agent_page(
            self._docs, keys, rewrite, replacement=replacement, delete=delete, limit=limit
        )

    async def settle_erasure(self) -> None:
        """Nothing: MongoDB keeps no older copy the LRS can reach."""

    async def count_awaiting_projection(self) -> int:
        """How many committed statements await projection."""
        with translate_errors("count statements awaiting projection"):
            return await self._docs.count_documents(
                {"awaiting": True, "pending": {"$exists": False}}
            )

    async def export_statements(
        self,
        after: str | None,
        limit: int,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> StatementPage:
        """Every statement, voided or not, sorted by (stored_us, _id), one page."""
        if limit < 1:
            return StatementPage(statements=[], next_position=None)
        window = StatementFilter(since_us=since_us, until_us=until_us, ascending=True, after=after)
        clauses = [c for c in query_filter(window)["$and"] if c != {"voided": False}]
        with translate_errors("export statements"):
            cursor = (
                self._docs.find({"$and": clauses}, {"raw": 1, "stored_us": 1})
                .sort([("stored_us", ASCENDING), ("_id", ASCENDING)])
                .limit(limit + 1)
            )
            docs = await cursor.to_list(length=limit + 1)
        more = len(docs) > limit
        docs = docs[:limit]
        return StatementPage(
            statements=[bytes(d["raw"]) for d in docs],
            next_position=_position(docs[-1]) if more else None,
        )

    async def _settled(self, ids: list[str]) -> tuple[dict[str, StoredStatement], bool]:
        """The stored statements among `ids`, and whether a live batch holds some of the others.

        Pending statements met on the way are resolved: their batch is rolled forward when
        committed, rolled back when dead, left alone (and reported) when still being written.
        """
        docs = await self._docs.find({"_id": {"$in": ids}}).to_list(length=None)
        tokens = {d["pending"] for d in docs if "pending" in d}
        in_flight = False
        for token in tokens:
            in_flight = await self._resolve(token) or in_flight
        if tokens:
            docs = await self._docs.find({"_id": {"$in": ids}}).to_list(length=None)
        return {d["_id"]: _stored(d) for d in docs if "pending" not in d}, in_flight

    async def _write(
        self, records: Sequence[StatementRecord], definitions: DefinitionUpdate | None
    ) -> bool:
        """Steps 2-5 of a batch; False when an id was taken meanwhile (nothing is left behind)."""
        token = uuid.uuid4().hex
        batch = _batch(token, records, definitions)
        fields = {k: v for k, v in batch.items() if k != "_id"}
        # the server's clock dates the batch: whoever judges it dead reads the same clock
        await self._batches.update_one(
            {"_id": token}, {"$setOnInsert": fields, "$currentDate": {"at": True}}, upsert=True
        )
        try:
            await self._docs.insert_many([_document(r, token) for r in records], ordered=True)
        except _WRITE_FAILURES as exc:
            with suppress(PyMongoError):
                await self._abort(token)
            if isinstance(exc, PyMongoError) and _only_duplicates(exc):
                return False
            raise
        commit = await self._batches.update_one(
            {"_id": token, "state": PENDING}, {"$set": {"state": COMMITTED}}
        )
        if commit.matched_count == 0:  # found dead by another request and aborted
            await self._abort(token)
            raise StoreUnavailable("the write took too long and was rolled back; retry it")
        await self._roll_forward(batch, definitions.merge if definitions else None)
        return True

    async def _resolve(self, token: str) -> bool:
        """Finish or roll back another batch; True while it is live (pending, not yet dead)."""
        for _attempt in range(3):
            batch = await self._batches.find_one({"_id": token})
            if batch is not None and batch["state"] == COMMITTED:
                await self._roll_forward(batch)
                return False
            if batch is not None and batch["state"] == PENDING and not await self._dead(batch):
                return True
            if await self._abort(token):
                return False
            # it committed between our read and the abort: roll it forward on the next turn
        return False

    async def _dead(self, batch: dict[str, Any]) -> bool:
        """A pending batch older than the timeout, by the server's clock: its writer crashed
        or is past caring. (A batch from before server times were kept: by this clock.)"""
        started = batch.get("at")
        if not isinstance(started, datetime):
            return _now_us() - int(batch.get("at_us", 0)) >= self.pending_timeout_s * 1_000_000
        age = await self._server_now() - started
        return age.total_seconds() >= self.pending_timeout_s

    async def _server_now(self) -> datetime:
        """The server's clock, read by stamping a document with it (works on every deployment)."""
        for _attempt in range(2):
            with suppress(DuplicateKeyError):  # a concurrent first stamp: the next one matches
                doc = await self._clock.find_one_and_update(
                    {"_id": "now"},
                    {"$currentDate": {"at": True}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:
                    at: datetime = doc["at"]
                    return at
        raise StoreUnavailable("the store could not read its clock")

    async def _abort(self, token: str) -> bool:
        """Roll back a batch unless committed, deciding with one write; False when committed.

        The upsert marks the batch aborted unless it is committed (and records an aborted
        batch whose document is gone); its duplicate key says it exists and did not match:
        committed. No read decides, so no stale read can make it delete a committed batch.
        """
        try:
            await self._batches.update_one(
                {"_id": token, "state": {"$ne": COMMITTED}},
                {"$set": {"state": ABORTED}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        await self._docs.delete_many({"pending": token})
        await self._batches.delete_one({"_id": token, "state": ABORTED})
        return True

    async def _roll_forward(
        self, batch: BatchDoc | dict[str, Any], merge: DefinitionMerge | None = None
    ) -> None:
        """Step 5 for a committed batch: voiding, visibility, definitions, forget the batch.

        Which statements become voided is decided here (`lrs.xapi.voiding.voided_ids`), not by
        the service: it depends on the voiding statements other batches have committed by now.
        A statement's `voids` never changes once inserted, so reading it before the update is
        as good as filtering on it. The definitions are merged after the statements are
        visible; the merge is idempotent, and the batch document stays until it is done, so a
        failed merge is repeated by the next recovery.
        """
        token = batch["_id"]
        # xAPI 1.0.3 Part 2 §2.3.2: a voiding statement voids its target; a statement voided
        # before it arrived is stored voided.
        targeted = set(batch["targets"]) | await self._targeted(batch["ids"], token)
        if targeted:
            found = self._docs.find({"_id": {"$in": sorted(targeted)}}, {"voids": 1})
            voided = voided_ids(targeted, {d["_id"]: d.get("voids") async for d in found})
            if voided:
                await self._docs.update_many({"_id": {"$in": voided}}, {"$set": {"voided": True}})
        await self._docs.update_many({"pending": token}, {"$unset": {"pending": ""}})
        carried = batch.get("definitions")
        if carried is not None:
            merge = merge or merger(bool(batch.get("define")))
            await self._activities.merge_activities(orjson.loads(bytes(carried)), merge)
        await self._batches.delete_one({"_id": token})

    async def _targeted(self, ids: list[str], token: str) -> set[str]:
        """Those of `ids` that a committed voiding statement (or one of this batch) targets."""
        voiders = await self._docs.find(
            {"voids": {"$in": ids}}, {"voids": 1, "pending": 1}
        ).to_list(length=None)
        hit = {v["voids"] for v in voiders if v.get("pending") in (None, token)}
        others = [v for v in voiders if v.get("pending") not in (None, token)]
        if not others:
            return hit
        states = {
            b["_id"]: b["state"]
            async for b in self._batches.find(
                {"_id": {"$in": list({v["pending"] for v in others})}}, {"state": 1}
            )
        }
        hit.update(v["voids"] for v in others if states.get(v["pending"]) == COMMITTED)
        # no batch document: rolled forward and forgotten since we looked, or an aborted leftover
        gone = [v["_id"] for v in others if v["pending"] not in states]
        if gone:
            cursor = self._docs.find(
                {"_id": {"$in": gone}, "pending": {"$exists": False}}, {"voids": 1}
            )
            hit.update([v["voids"] async for v in cursor])
        return hit


class MongoCredentialStore:
    """API credentials in MongoDB, `_id` = key."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._docs = db["credentials"]

    async def create_indexes(self) -> None:
        """The index for listing oldest first."""
        await self._docs.create_indexes(
            [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="created")]
        )

    async def add_credential(self, credential: Credential) -> None:
        """Store a new credential; Conflict when the key is taken."""
        doc: CredentialDoc = {
            "_id": credential.key,
            "name": credential.name,
            "scopes": list(credential.scopes),
            "secret_hash": credential.secret_hash,
            "created_at": credential.created_at,
            "revoked": credential.revoked,
        }
        with translate_errors("store the credential"):
            try:
                await self._docs.insert_one(doc)
            except DuplicateKeyError:
                raise Conflict(f"credential {credential.key} already exists") from None

    async def get_credential(self, key: str) -> Credential | None:
        """The credential with this key, revoked or not."""
        with translate_errors("read the credential"):
            doc = await self._docs.find_one({"_id": key})
        return None if doc is None else _credential(doc)

    async def list_credentials(self) -> list[Credential]:
        """Every credential, oldest first (then by key)."""
        with translate_errors("list credentials"):
            cursor = self._docs.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            docs = await cursor.to_list(length=None)
        return [_credential(d) for d in docs]

    async def revoke_credential(self, key: str) -> bool:
        """Mark a credential revoked; False when there is no such key."""
        with translate_errors("revoke the credential"):
            result = await self._docs.update_one({"_id": key}, {"$set": {"revoked": True}})
        return result.matched_count > 0


def _credential(doc: dict[str, Any]) -> Credential:
    return Credential(
        key=doc["_id"],
        name=doc["name"],
        scopes=tuple(doc["scopes"]),
        secret_hash=doc["secret_hash"],
        created_at=doc["created_at"],
        revoked=bool(doc["revoked"]),
    )


class MongoAttachmentStore:
    """Attachment content in MongoDB, one document per SHA-2 hash (`_id`).

    A BSON document holds at most 16 MiB, less than a request may carry, so content larger
    than `chunk_bytes` goes to `attachment_chunks` (`_id` = "<sha2>:<n>") and the head
    document, written last, records how many chunks there are. Content is addressed by its
    hash, so a write cut short leaves only chunks that a later write rewrites identically.
    """

    chunk_bytes: int = 8 * 1024 * 1024

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._heads = db["attachments"]
        self._chunks = db["attachment_chunks"]

    async def put_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Store each attachment unless one with its hash is stored already."""
        fresh = {a.sha2: a for a in attachments}
        if not fresh:
            return
        with translate_errors("store attachments"):
            cursor = self._heads.find({"_id": {"$in": list(fresh)}}, {"_id": 1})
            for head in await cursor.to_list(length=None):
                del fresh[head["_id"]]
            for attachment in fresh.values():
                await self._put(attachment)

    async def _put(self, attachment: Attachment) -> None:
        content, size = attachment.content, self.chunk_bytes
        head: dict[str, Any] = {"content_type": attachment.content_type, "length": len(content)}
        if len(content) <= size:
            head["content"] = bytes(content)
        else:
            pieces = [content[i : i + size] for i in range(0, len(content), size)]
            for n, piece in enumerate(pieces):
                await self._chunks.replace_one(
                    {"_id": f"{attachment.sha2}:{n}"}, {"content": bytes(piece)}, upsert=True
                )
            head["chunks"] = len(pieces)
        with suppress(DuplicateKeyError):  # a concurrent request stored it first
            await self._heads.update_one(
                {"_id": attachment.sha2}, {"$setOnInsert": head}, upsert=True
            )

    async def get_attachments(self, hashes: Sequence[str]) -> dict[str, Attachment]:
        """The stored attachments among `hashes`."""
        if not hashes:
            return {}
        with translate_errors("read attachments"):
            heads = await self._heads.find({"_id": {"$in": list(set(hashes))}}).to_list(None)
            found: dict[str, Attachment] = {}
            for head in heads:
                content = head.get("content")
                if content is None:
                    content = await self._assemble(head["_id"], head["chunks"])
                found[head["_id"]] = Attachment(head["_id"], head["content_type"], bytes(content))
        return found

    async def _assemble(self, sha2: str, count: int) -> bytes:
        ids = [f"{sha2}:{n}" for n in range(count)]
        docs = await self._chunks.find({"_id": {"$in": ids}}).to_list(length=None)
        by_id = {d["_id"]: bytes(d["content"]) for d in docs}
        return b"".join(by_id[i] for i in ids)


class MongoBackend:
    """One MongoDB database holding every store; other packages build theirs on `engine`."""

    def __init__(self, client: Any, db: AsyncIOMotorDatabase, *, owns_client: bool) -> None:
        self.client = client
        self.db = db
        self.engine = MongoDatabase(db)
        self._owns_client = owns_client
        self.activities = MongoActivityStore(db)
        self.statements = MongoStatementStore(db, self.activities)
        self.credentials = MongoCredentialStore(db)
        self.attachments = MongoAttachmentStore(db)
        self.documents = MongoDocumentStore(db)
        self.recovery: RecoveryLoop | None = None

    @classmethod
    async def open(
        cls,
        uri: str,
        database: str,
        *,
        client: Any = None,
        server_selection_ms: int = 5000,
        write_timeout_ms: int = 10000,
        recovery_interval_s: float | None = None,
    ) -> MongoBackend:
        """Connect (or use `client`, e.g. mongomock-motor's), create indexes, recover batches,
        and sweep them again every `recovery_interval_s` seconds (None: only at open).

        Reads, read concern and write concern are the engine's whatever the URI says
        (`lrs.store.engine.mongo.database_options`); the server selection timeout too; TLS and
        the rest come from the URI. A client passed in stays open on `close()`.
        """
        owns_client = client is None
        if client is None:
            client = AsyncIOMotorClient(uri, **client_options(server_selection_ms))
        db = client.get_database(database, **database_options(write_timeout_ms))
        backend = cls(client, db, owns_client=owns_client)
        try:
            with translate_errors("open the database"):
                await backend.statements.create_indexes()
                await backend.credentials.create_indexes()
                await backend.documents.ensure_indexes()
                await backend.statements.recover()
        except BaseException:
            await backend.close()
            raise
        if recovery_interval_s is not None:
            backend.recovery = RecoveryLoop(backend.statements.recover, recovery_interval_s)
            backend.recovery.start()
        return backend

    async def close(self) -> None:
        """Stop the recovery loop; close the client if this backend opened it (idempotent)."""
        if self.recovery is not None:
            await self.recovery.stop()
        if self._owns_client and self.client is not None:
            self.client.close()
        self.client = None
