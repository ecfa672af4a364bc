"""The storage seam of the xAPI core, in domain words.

Two backends implement every Protocol here: SQLite (`sqlite.py`, the embedded default) and
MongoDB (`mongo.py`, production). The contract tests in `tests/lrs/contract/` run the same
assertions against both; nothing above this package knows which one it talks to. The values
they take and return are in `lrs.model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lrs.model.attachments import Attachment
from lrs.model.credentials import Credential
from lrs.model.erasure import ErasedPage, StatementRewrite
from lrs.model.statements import (
    AwaitingPage,
    DefinitionMerge,
    DefinitionUpdate,
    InsertOutcome,
    StatementFilter,
    StatementPage,
    StatementRecord,
    StoredStatement,
)
from lrs.store.documents import DocumentStore
from lrs.store.engine import Engine


@runtime_checkable
class StatementStore(Protocol):
    """Where statements live. Statements are immutable: there is no update and no delete
    (erasing a person, `ErasableStatements`, is the one exception, for a legal obligation)."""

    async def insert_statements(
        self, records: Sequence[StatementRecord], definitions: DefinitionUpdate | None = None
    ) -> InsertOutcome:
        """Store every record or none.

        When any id is already stored, nothing is written and the stored statements for those
        ids are returned, so the caller can apply the statement comparison rules and retry
        with what is new. A record with `voids` set marks its target voided; a record whose id
        an earlier voiding statement targets is stored voided.

        When the records are stored, `definitions` are merged into the canonical activity
        definitions (the backend's ActivityStore) before this returns: in the same transaction
        where the backend has one (SQLite), right after the statements otherwise (MongoDB;
        derived data, rebuildable from the statements).
        """
        ...

    async def get_statements(self, ids: Sequence[str]) -> dict[str, StoredStatement]:
        """The stored statements among `ids`, voided or not."""
        ...

    async def query_statements(self, query: StatementFilter) -> StatementPage:
        """Non-voided statements matching every given key, in stored order, one page."""
        ...

    async def last_stored_us(self) -> int | None:
        """The stored time of the newest statement, or None when there is none."""
        ...

    async def stored_counts(self, since_us: int, bucket_us: int, buckets: int) -> list[int]:
        """How many statements (voided ones included) were stored in each of `buckets`
        consecutive periods of `bucket_us` from `since_us` (the console's charts)."""
        ...

    async def awaiting_projection(self, limit: int, after: str | None = None) -> AwaitingPage:
        """Stored statements not yet marked projected, voided ones included, oldest first.

        A statement awaits projection from the moment its insert commits: the mark is written
        with the statement, atomically, and stays until `mark_projected`. `after` is the
        `next_position` of the previous page (SQLite: commit order; MongoDB: stored order).
        A store may leave the statements' `index` empty: projection reads the statement
        itself (`raw`), and decoding every statement's query keys cost the SQLite store more
        than the read.
        """
        ...

    async def mark_projected(self, ids: Sequence[str]) -> None:
        """Clear the awaiting-projection mark of these statements (repeatable)."""
        ...

    async def count_awaiting_projection(self) -> int:
        """How many stored statements await projection."""
        ...

    async def export_statements(
        self,
        after: str | None,
        limit: int,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> StatementPage:
        """Every stored statement, voided or not, oldest stored first, one page (for exports).

        The order is that of ascending queries; `after` is the `next_position` of the previous
        page; `since_us` (exclusive) and `until_us` (inclusive) bound the stored times.
        """
        ...


@runtime_checkable
class ErasableStatements(Protocol):
    """A statement store that can erase a person (`lrs.services.erasure`): an exception to
    immutability made for a legal obligation, never reachable through xAPI."""

    async def erase_agent_page(
        self,
        keys: Sequence[str],
        rewrite: StatementRewrite,
        *,
        replacement: str | None,
        delete: bool,
        limit: int,
    ) -> ErasedPage:
        """Erase at most `limit` of the statements that answer to one of the agent `keys` in
        any filter kind, each in one write (no transaction spans the page on MongoDB):
        - `rewrite(raw)` not None (the statement names the person): delete the statement when
          `delete`, else store the rewritten JSON;
        - otherwise (it only inherits their keys through a StatementRef) keep its JSON;
        and move every filter entry under `keys` to `replacement` (drop it when `delete` or
        None). Repeatable: each page leaves fewer statements answering to `keys`; `done` when
        none is left (the keys are then forgotten wherever the store keeps them)."""
        ...

    async def settle_erasure(self) -> None:
        """Once erasure is done: leave no older copy of what it replaced where the store can
        (SQLite: a TRUNCATE checkpoint of the WAL); nothing to do elsewhere."""
        ...


@runtime_checkable
class CredentialStore(Protocol):
    """Where API credentials live."""

    async def add_credential(self, credential: Credential) -> None:
        """Store a new credential; its key must be new."""
        ...

    async def get_credential(self, key: str) -> Credential | None:
        """The credential with this key, revoked or not."""
        ...

    async def list_credentials(self) -> list[Credential]:
        """Every credential, oldest first."""
        ...

    async def revoke_credential(self, key: str) -> bool:
        """Mark a credential revoked; False when there is no such key."""
        ...


@runtime_checkable
class AttachmentStore(Protocol):
    """Where attachment content lives, outside the statement documents."""

    async def put_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Store each attachment unless one with its hash is stored already."""
        ...

    async def get_attachments(self, hashes: Sequence[str]) -> dict[str, Attachment]:
        """The stored attachments among `hashes`."""
        ...


@runtime_checkable
class ActivityStore(Protocol):
    """Canonical Activity definitions, derived from statements (rebuildable from them)."""

    async def merge_activities(
        self, definitions: Mapping[str, dict[str, Any]], merge: DefinitionMerge
    ) -> None:
        """Replace each activity's definition by `merge(current or None, new)`, atomically
        per activity, so concurrent merges lose nothing."""
        ...

    async def get_activities(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The canonical definitions known among `ids`."""
        ...


class Backend(Protocol):
    """One opened database: the stores on it, and how to close it.

    `engine` is the database itself (`lrs.store.engine`), on which the stores of other
    packages are built with `open_store`. Members are read-only properties so that a backend
    may hold its own store classes (a protocol's plain attribute is writable, so a type checker
    would demand exactly the protocol's types).
    """

    @property
    def engine(self) -> Engine: ...

    @property
    def statements(self) -> StatementStore: ...

    @property
    def credentials(self) -> CredentialStore: ...

    @property
    def attachments(self) -> AttachmentStore: ...

    @property
    def activities(self) -> ActivityStore: ...

    @property
    def documents(self) -> DocumentStore: ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
