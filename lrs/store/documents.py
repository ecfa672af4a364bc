"""The storage seam of the xAPI document resources (1.0.3 Part 3 §2.2, §2.3, §2.6, §2.7).

State, Activity Profile and Agent Profile documents share one store: a document is named by a
`DocumentKey` (its kind, the activity and/or agent it is about, the state's registration, and
its id) and holds opaque bytes with their content type, an ETag and its last change time.

Every write is conditional, and atomic on every backend: "store this only if the document is
absent" or "only if its current ETag is X", answering whether it happened. The service reads,
decides (preconditions, merge), then writes on the condition that nothing changed meanwhile,
and starts over when something did; so concurrent writers never lose an update, on SQLite (the
single writer thread) and on MongoDB without transactions (single-document atomic filters and
the unique `_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lrs.model.documents import Document, DocumentIds, DocumentKey, DocumentScope


@runtime_checkable
class DocumentStore(Protocol):
    """Where State, Activity Profile and Agent Profile documents live."""

    async def get_document(self, key: DocumentKey) -> Document | None:
        """The document with this key, or None."""
        ...

    async def list_documents(self, scope: DocumentScope, since_us: int | None) -> DocumentIds:
        """Ids of the documents in `scope` changed after `since_us` (exclusive), sorted."""
        ...

    async def write_document(self, document: Document, *, replacing: str | None) -> bool:
        """Store `document` under its key, atomically, only if the current document's etag is
        `replacing` (None: only if there is no document). True when it was written."""
        ...

    async def delete_document(self, key: DocumentKey, *, etag: str | None = None) -> bool:
        """Delete the document, atomically, only if its etag is `etag` (None: whatever it is).
        True when a document was deleted."""
        ...

    async def delete_documents(self, scope: DocumentScope) -> int:
        """Delete every document in `scope`; how many there were."""
        ...

    async def delete_agent_documents(self, agents: Sequence[str]) -> int:
        """Delete every State and Agent Profile document about one of `agents` (IFI keys), for
        erasing a person; how many there were. Rare, so it may scan the documents."""
        ...
