"""The storage seam of the xAPI core, in domain words.

Two backends implement every Protocol here: SQLite (`sqlite.py`, the embedded default) and
MongoDB (`mongo.py`, production). The contract tests in `tests/contract/` run the same
assertions against both; nothing above this package knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Protocol, Self, runtime_checkable

import orjson

from lrs.store.documents import DocumentStore
from lrs.store.engine import Engine

INDEX_KINDS = (
    "agents",
    "related_agents",
    "verbs",
    "activities",
    "related_activities",
    "registrations",
    "authorities",
)
# The bit of each kind in `StatementIndex.kind_bits` (and in what stores keep of it).
KIND_BIT = {kind: 1 << number for number, kind in enumerate(INDEX_KINDS)}


class _KeysOfKind:
    """A per-kind view of `StatementIndex.kind_bits`, worked out on first use and kept on the
    instance (a frozen dataclass: written to its `__dict__` directly, as cached_property does)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.bit = KIND_BIT[name]

    def __get__(self, instance: Any, owner: type | None = None) -> tuple[str, ...]:
        keys = tuple(key for key, bits in instance.kind_bits.items() if bits & self.bit)
        instance.__dict__[self.name] = keys
        return keys


@dataclass(frozen=True)
class StatementIndex:
    """The keys a statement answers to in queries, derived once when it is stored.

    Agent keys are IFI keys (see `lrs.xapi.agents.ifi_key`). A statement whose object is a
    StatementRef also carries the keys of the statement it targets (xAPI 1.0.3 Part 3 §2.1.3,
    "Filter Conditions for StatementRefs"), so the store answers those filters with plain lookups.

    Held as one dict, each distinct key with the kinds it counts under (bit i for
    INDEX_KINDS[i], `KIND_BIT`), because that is what the hot path builds and stores: the
    statement service derives it in its process pool, pickles it back as one dict, and the
    SQLite store packs it as it is. The per-kind tuples (`agents`, `verbs`, ...) are views
    derived from it on demand, in the order the keys were added. Use `of` to build one from
    per-kind keys.
    """

    kind_bits: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        agents: Sequence[str] = (),
        related_agents: Sequence[str] = (),
        verbs: Sequence[str] = (),
        activities: Sequence[str] = (),
        related_activities: Sequence[str] = (),
        registrations: Sequence[str] = (),
        authorities: Sequence[str] = (),
    ) -> StatementIndex:
        """An index of these keys, kind by kind."""
        bits: dict[str, int] = {}
        by_kind = (
            agents,
            related_agents,
            verbs,
            activities,
            related_activities,
            registrations,
            authorities,
        )
        for bit, keys in zip(KIND_BIT.values(), by_kind, strict=True):
            for key in keys:
                bits[key] = bits.get(key, 0) | bit
        return cls(bits)

    def __reduce__(self) -> tuple[type[StatementIndex], tuple[Mapping[str, int]]]:
        # only the dict, not the views cached beside it: pool workers send indexes back
        return (StatementIndex, (self.kind_bits,))

    # The keys of each kind, in the order they were added (not dataclass fields: unannotated).
    agents = _KeysOfKind()
    related_agents = _KeysOfKind()
    verbs = _KeysOfKind()
    activities = _KeysOfKind()
    related_activities = _KeysOfKind()
    registrations = _KeysOfKind()
    authorities = _KeysOfKind()

    def merged(self, other: StatementIndex) -> StatementIndex:
        """This index with another's keys added (for a StatementRef's target).

        The authority filter (statements/read/mine) is about who stored *this* statement, so
        the other's authority keys are not added.
        """
        bits = dict(self.kind_bits)
        for key, kinds in other.kind_bits.items():
            kinds &= ~KIND_BIT["authorities"]
            if kinds:
                bits[key] = bits.get(key, 0) | kinds
        return StatementIndex(bits)

    def items(self) -> list[tuple[str, str]]:
        """(kind, key) pairs, the shape side tables and multikey arrays store."""
        return [(kind, key) for kind in INDEX_KINDS for key in getattr(self, kind)]

    @classmethod
    def from_items(cls, pairs: Iterable[tuple[str, str]]) -> StatementIndex:
        """Rebuild an index from its (kind, key) pairs."""
        bits: dict[str, int] = {}
        for kind, key in pairs:
            bits[key] = bits.get(key, 0) | KIND_BIT[kind]
        return cls(bits)


class StatementRecord(NamedTuple):
    """A statement ready to store, with what the store needs beside its JSON.

    `raw` is the statement exactly as clients will get it back (format=exact), serialised
    once by the service; stores keep it as an opaque string so extension keys full of dots
    and `$` survive untouched. A NamedTuple: the service makes one per statement stored, on
    the event loop, and a tuple is built several times faster than a frozen dataclass.
    """

    id: str
    raw: bytes
    stored_us: int
    index: StatementIndex  # type: ignore[assignment]  # shadows tuple.index, never called
    voids: str | None = None
    ref: str | None = None


DefinitionMerge = Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class DefinitionUpdate:
    """The activity definitions a batch of statements carries, and how each merges into the
    canonical one (see `ActivityStore.merge_activities`).

    Each definition is kept as its JSON with sorted keys (`definition_json`): equal definitions
    are equal bytes, so a store can tell one it holds already by comparing them (most
    statements repeat the definitions the LRS has), and pool workers send bytes back rather than
    nested dicts to rebuild.
    """

    encoded: Mapping[str, bytes]
    merge: DefinitionMerge

    @classmethod
    def of(cls, definitions: Mapping[str, dict[str, Any]], merge: DefinitionMerge) -> Self:
        """An update of these definitions."""
        return cls({i: definition_json(d) for i, d in definitions.items()}, merge)

    @cached_property
    def definitions(self) -> dict[str, dict[str, Any]]:
        """The definitions, decoded."""
        return {i: orjson.loads(encoded) for i, encoded in self.encoded.items()}


def definition_json(definition: dict[str, Any]) -> bytes:
    """A definition's JSON with its keys sorted, at every level."""
    return orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class StoredStatement:
    """A statement as the store holds it."""

    id: str
    raw: bytes
    stored_us: int
    voided: bool
    index: StatementIndex
    voids: str | None = None


@dataclass(frozen=True)
class InsertOutcome:
    """The answer to `insert_statements`: either all stored, or none and the ids already taken."""

    stored: bool
    existing: dict[str, StoredStatement] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementFilter:
    """A statement query in store terms: keys to match, a time window and a page."""

    agent: str | None = None
    related_agents: bool = False
    verb: str | None = None
    activity: str | None = None
    related_activities: bool = False
    registration: str | None = None
    authority: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    ascending: bool = False
    limit: int = 100
    after: str | None = None  # the store's own opaque position from the previous page


@dataclass(frozen=True)
class StatementPage:
    """One page of query results, oldest or newest first as asked, and where the next starts."""

    statements: list[bytes]
    next_position: str | None


@dataclass(frozen=True)
class AwaitingPage:
    """Statements awaiting projection (see `StatementStore.awaiting_projection`)."""

    statements: list[StoredStatement]
    next_position: str | None


@runtime_checkable
class StatementStore(Protocol):
    """Where statements live. Statements are immutable: there is no update and no delete."""

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

    async def awaiting_projection(self, limit: int, after: str | None = None) -> AwaitingPage:
        """Stored statements not yet marked projected, voided ones included, oldest first.

        A statement awaits projection from the moment its insert commits: the mark is written
        with the statement, atomically, and stays until `mark_projected`. `after` is the
        `next_position` of the previous page (SQLite: commit order; MongoDB: stored order).
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


@dataclass(frozen=True)
class Credential:
    """An API credential for HTTP Basic: the secret itself is never stored, only its hash."""

    key: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: str
    revoked: bool = False


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


@dataclass(frozen=True)
class Attachment:
    """An attachment's raw content, stored once per SHA-2 hash whatever statements use it."""

    sha2: str
    content_type: str
    content: bytes


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
