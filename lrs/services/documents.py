"""The document service: State, Activity Profile and Agent Profile documents (1.0.3 Part 3 §2.2).

Every write reads the current document, decides (preconditions, then the POST merge), and
writes on the condition that the document is still the one it read; when another writer got
there first, the write is refused by the store and the service starts over with the new
document. A request therefore never overwrites a change it has not seen, and its If-Match is
always judged against the document it actually replaces.

Outcomes of a write: stored (the new document returned, for its ETag); 412 (a precondition
failed); 409 (a PUT without If-Match/If-None-Match on an existing document, where the version's
rules forbid it, or contention that outlasted every attempt); 400 (a JSON document that is not
JSON, a merge that is not of two JSON objects, a 1.0.3 profile PUT without either header).
Nothing is written in any of the error cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lrs.errors import BadRequest, Conflict, NotFound
from lrs.model.documents import Document, DocumentIds, DocumentKey, DocumentScope
from lrs.store.documents import DocumentStore
from lrs.xapi.documents import (
    DEFAULT_CONTENT_TYPE,
    JSON_TYPE,
    Preconditions,
    check_json_content,
    check_preconditions,
    content_etag,
    is_json,
    merge_documents,
)

_ATTEMPTS = 8

Build = Callable[[Document | None], tuple[bytes, str]]


def wall_clock_us() -> int:
    """Now, in microseconds since the epoch: the time documents are stamped with."""
    return time.time_ns() // 1000


class DocumentService:
    """Reads and writes documents; see the module docstring for the outcomes."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        clock: Callable[[], int] | None = None,
        attempts: int = _ATTEMPTS,
    ) -> None:
        self._store = store
        self._clock = clock or wall_clock_us  # looked up here, so a test can set the clock
        self._attempts = attempts

    async def get_document(self, key: DocumentKey) -> Document:
        """The document, or NotFound."""
        document = await self._store.get_document(key)
        if document is None:
            raise NotFound(f"no document {key.doc_id!r} here")
        return document

    async def list_ids(self, scope: DocumentScope, since_us: int | None = None) -> DocumentIds:
        """Ids of the documents in scope changed after `since_us` (Part 3 §2.3, §2.6, §2.7)."""
        return await self._store.list_documents(scope, since_us)

    async def put_document(
        self,
        key: DocumentKey,
        content: bytes,
        content_type: str,
        *,
        pre: Preconditions,
        version: str,
    ) -> Document:
        """Store `content` as the document, replacing any; the stored document."""
        content_type = content_type.strip() or DEFAULT_CONTENT_TYPE
        if is_json(content_type):
            check_json_content(content)
        return await self._write(key, "PUT", pre, version, lambda _: (content, content_type))

    async def post_document(
        self,
        key: DocumentKey,
        content: bytes,
        content_type: str,
        *,
        pre: Preconditions,
        version: str,
    ) -> Document:
        """Merge a JSON object into the document, or store it when there is none (§2.2)."""
        content_type = content_type.strip() or DEFAULT_CONTENT_TYPE
        if is_json(content_type):
            check_json_content(content)

        def build(current: Document | None) -> tuple[bytes, str]:
            if current is None:
                # Part 3 §2.2: a POST to an absent document is treated as a PUT.
                return content, content_type
            merged = merge_documents(current.content, current.content_type, content, content_type)
            return merged, JSON_TYPE

        return await self._write(key, "POST", pre, version, build)

    async def delete_document(self, key: DocumentKey, *, pre: Preconditions, version: str) -> None:
        """Delete the document (nothing to do when it is absent and no precondition fails)."""
        if not pre.any:
            await self._store.delete_document(key)
            return
        for _attempt in range(self._attempts):
            current = await self._store.get_document(key)
            etag = current.etag if current else None
            check_preconditions(
                version=version, kind=key.kind, method="DELETE", pre=pre, current_etag=etag
            )
            if current is None or await self._store.delete_document(key, etag=current.etag):
                return
        raise _contention()

    async def delete_documents(self, scope: DocumentScope, *, pre: Preconditions) -> int:
        """Delete every document in scope (State multiple-document DELETE, Part 3 §2.3)."""
        if pre.any:
            raise BadRequest(
                "If-Match and If-None-Match apply to one document; name it with stateId"
            )
        return await self._store.delete_documents(scope)

    async def _write(
        self, key: DocumentKey, method: str, pre: Preconditions, version: str, build: Build
    ) -> Document:
        for _attempt in range(self._attempts):
            current = await self._store.get_document(key)
            check_preconditions(
                version=version,
                kind=key.kind,
                method=method,
                pre=pre,
                current_etag=current.etag if current else None,
            )
            content, content_type = build(current)
            # Last-Modified moves forward on every change, whatever the clock does.
            updated = max(self._clock(), current.updated_us + 1 if current else 0)
            document = Document(key, content, content_type, content_etag(content), updated)
            replacing = current.etag if current else None
            if await self._store.write_document(document, replacing=replacing):
                return document
        raise _contention()


def _contention() -> Conflict:
    return Conflict("the document kept changing while this request tried to write it; retry")
