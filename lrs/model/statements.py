"""The values a statement travels as between the xAPI rules, the statement service and the stores.

The index of keys a statement answers to (`StatementIndex`, built by `lrs.xapi.indexing`), what
the service hands a store to write (`StatementRecord`, `DefinitionUpdate`) and what a store
answers (`StoredStatement`, `InsertOutcome`, `StatementPage`, `AwaitingPage`). The Protocols that
take and return them are in `lrs.store.base`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Self

import orjson

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
    canonical one (see `lrs.store.base.ActivityStore.merge_activities`).

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

    def keyed(self) -> dict[str, str]:
        """The index kinds this query names (see INDEX_KINDS), each with its key."""
        named = (
            ("related_agents" if self.related_agents else "agents", self.agent),
            ("verbs", self.verb),
            ("related_activities" if self.related_activities else "activities", self.activity),
            ("registrations", self.registration),
            ("authorities", self.authority),
        )
        return {kind: key for kind, key in named if key is not None}


@dataclass(frozen=True)
class StatementPage:
    """One page of query results, oldest or newest first as asked, and where the next starts."""

    statements: list[bytes]
    next_position: str | None


@dataclass(frozen=True)
class AwaitingPage:
    """Statements awaiting projection (see `lrs.store.base.StatementStore.awaiting_projection`)."""

    statements: list[StoredStatement]
    next_position: str | None
