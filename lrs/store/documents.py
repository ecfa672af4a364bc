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
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Document kinds, one per resource.
STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"
KINDS = (STATE, ACTIVITY_PROFILE, AGENT_PROFILE)


@dataclass(frozen=True)
class DocumentKey:
    """The name of one document.

    `agent` is an IFI key (`lrs.xapi.agents.ifi_key`); fields a kind does not use are "" (an
    Activity Profile has no agent, an Agent Profile no activity, a profile no registration, and
    a state stored without a registration has registration "").
    """

    kind: str
    activity_id: str
    agent: str
    registration: str
    doc_id: str


@dataclass(frozen=True)
class DocumentScope:
    """The documents of one kind about one activity and/or agent, for listing and deleting.

    `registration` None means every registration, as the State resource's multiple-document
    GET and DELETE do when the request names none (1.0.3 Part 3 §2.3).
    """

    kind: str
    activity_id: str = ""
    agent: str = ""
    registration: str | None = None


@dataclass(frozen=True)
class Document:
    """A stored document: its bytes exactly as received, and what the LRS says about them.

    `etag` is the unquoted tag (SHA-1 hex of `content`); `updated_us` is the last change, in
    microseconds since the epoch, strictly increasing across changes of one document.
    """

    key: DocumentKey
    content: bytes
    content_type: str
    etag: str
    updated_us: int


@dataclass(frozen=True)
class DocumentIds:
    """The answer to a multiple-document GET: ids (sorted) and the newest change among them."""

    ids: Sequence[str]
    last_updated_us: int | None


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
