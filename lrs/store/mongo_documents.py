"""MongoDB implementation of the DocumentStore (see `lrs.store.documents`).

Documents (`documents` collection, see `DocumentDoc`)
    `_id` is the document's key as one string (a JSON array of kind, activity id, agent key,
    registration and document id), so MongoDB's unique `_id` index makes "create only if
    absent" atomic: a concurrent creator gets a duplicate key error. The key's parts are also
    kept as fields for listing a scope; `content` is the bytes as received (BSON binary).

Conditional writes use one single-document operation each, atomic on every deployment and
needing no transaction: create = `insert_one` (refused on a duplicate `_id`); replace =
`replace_one({_id, etag: <expected>})`; conditional delete = `delete_one({_id, etag})`.
Whether it matched is whether it happened.

Indexes (created by `ensure_indexes`)
    `scope`  (kind, activity_id, agent, registration, doc_id)   listing and deleting a scope;
             its order is the order ids are returned in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypedDict

import orjson
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lrs.model.documents import Document, DocumentIds, DocumentKey, DocumentScope
from lrs.store.engine.mongo import translate_errors

log = logging.getLogger(__name__)

COLLECTION = "documents"


class DocumentDoc(TypedDict):
    """One State, Activity Profile or Agent Profile document in `documents`."""

    _id: str
    kind: str
    activity_id: str
    agent: str
    registration: str
    doc_id: str
    content: bytes
    content_type: str
    etag: str
    updated_us: int


def _doc_id(key: DocumentKey) -> str:
    parts = [key.kind, key.activity_id, key.agent, key.registration, key.doc_id]
    return orjson.dumps(parts).decode()


def _to_doc(document: Document) -> DocumentDoc:
    key = document.key
    return DocumentDoc(
        _id=_doc_id(key),
        kind=key.kind,
        activity_id=key.activity_id,
        agent=key.agent,
        registration=key.registration,
        doc_id=key.doc_id,
        content=document.content,
        content_type=document.content_type,
        etag=document.etag,
        updated_us=document.updated_us,
    )


def _scope_filter(scope: DocumentScope) -> dict[str, Any]:
    query: dict[str, Any] = {
        "kind": scope.kind,
        "activity_id": scope.activity_id,
        "agent": scope.agent,
    }
    if scope.registration is not None:
        query["registration"] = scope.registration
    return query


class MongoDocumentStore:
    """State, Activity Profile and Agent Profile documents in MongoDB."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._docs = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        """Create the indexes listed in the module docstring (idempotent)."""
        scope = [(name, ASCENDING) for name in ("kind", "activity_id", "agent", "registration")]
        with translate_errors("create the document indexes"):
            await self._docs.create_indexes(
                [IndexModel([*scope, ("doc_id", ASCENDING)], name="scope")]
            )

    async def get_document(self, key: DocumentKey) -> Document | None:
        """The document with this key, or None."""
        with translate_errors("read a document"):
            found = await self._docs.find_one({"_id": _doc_id(key)})
        if found is None:
            return None
        return Document(
            key=key,
            content=bytes(found["content"]),
            content_type=found["content_type"],
            etag=found["etag"],
            updated_us=found["updated_us"],
        )

    async def list_documents(self, scope: DocumentScope, since_us: int | None) -> DocumentIds:
        """Ids of the documents in `scope` changed after `since_us`, sorted."""
        query = _scope_filter(scope)
        if since_us is not None:
            query["updated_us"] = {"$gt": since_us}
        projection = {"_id": 0, "doc_id": 1, "updated_us": 1}
        with translate_errors("list documents"):
            cursor = self._docs.find(query, projection).sort("doc_id", ASCENDING)
            rows = await cursor.to_list(None)
        # a State id may repeat across registrations when none is named: list it once
        ids = list(dict.fromkeys(row["doc_id"] for row in rows))
        last = max((row["updated_us"] for row in rows), default=None)
        return DocumentIds(ids=ids, last_updated_us=last)

    async def write_document(self, document: Document, *, replacing: str | None) -> bool:
        """Store the document only if the current etag is `replacing` (None: only if absent)."""
        doc = _to_doc(document)
        with translate_errors("write a document"):
            if replacing is None:
                try:
                    await self._docs.insert_one(doc)
                except DuplicateKeyError:
                    return False
                return True
            replacement = {k: v for k, v in doc.items() if k != "_id"}
            result = await self._docs.replace_one(
                {"_id": doc["_id"], "etag": replacing}, replacement
            )
            return result.matched_count == 1

    async def delete_document(self, key: DocumentKey, *, etag: str | None = None) -> bool:
        """Delete the document only if its etag is `etag` (None: whatever it is)."""
        query: dict[str, Any] = {"_id": _doc_id(key)}
        if etag is not None:
            query["etag"] = etag
        with translate_errors("delete a document"):
            result = await self._docs.delete_one(query)
        return result.deleted_count > 0

    async def delete_documents(self, scope: DocumentScope) -> int:
        """Delete every document in `scope`; how many there were."""
        with translate_errors("delete documents"):
            result = await self._docs.delete_many(_scope_filter(scope))
        return result.deleted_count

    async def delete_agent_documents(self, agents: Sequence[str]) -> int:
        """Delete the documents about any of `agents` (a collection scan: erasures are rare)."""
        if not agents:
            return 0
        with translate_errors("delete documents"):
            result = await self._docs.delete_many({"agent": {"$in": list(agents)}})
        return result.deleted_count
