"""The storage seam of the audit log: sealed entries kept by sequence number.

The store knows nothing of hashes: `projections.audit` seals each entry (its hash over the
previous entry's) and asks the store to insert it at the next sequence number. The one thing
every backend guarantees is that a sequence number is taken once (SQLite's primary key, the
MongoDB `_id`): of two writers that sealed an entry on the same previous one, one insert wins
and the other is told so (`Inserted.SEQ_TAKEN`, or `insert_run` stopping short) and seals
again on the new head. That is what keeps the chain from
forking without a transaction spanning the read and the write.

`details`, `before` and `after` are JSON objects stored as their JSON text, so that what is
read back is exactly what was hashed (no driver reorders, retypes or refuses a key of it).
A stored value that is no longer such a text (edited behind the store's back) reads back as
`{"unreadable": ...}`: verification then names the entry instead of failing on it.

Personal data (`projections.audit_personal`). An entry naming people holds tokens in their
place; the identifiers are kept apart, one `PersonalPart` per person (its `holder`: a member
id or an identity key), so that an erasure deletes that person's parts and nothing in the chain
(`erase_parts`). The entry keeps its parts' ids in `personal`; `clear` marks an entry written
before parts existed, whose hash covers its identifiers in clear (`protect`, the migration).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson


def dump_object(value: dict[str, Any] | None) -> str | None:
    """A JSON object as the stores keep it: canonical JSON text (None stays None)."""
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def load_object(text: Any) -> dict[str, Any]:
    """The JSON object a store kept (see the module docstring for what was tampered with)."""
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return {"unreadable": str(text)}
    return value if isinstance(value, dict) else {"unreadable": str(text)}


def load_optional(text: Any) -> dict[str, Any] | None:
    """`load_object`, with None kept."""
    return None if text is None else load_object(text)


@dataclass(frozen=True)
class AuditRecord:
    """One sealed entry of the audit log; `hash` covers every other field (see `audit.seal`)."""

    seq: int
    at_us: int
    type: str
    actor: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prev_hash: str = ""
    hash: str = ""
    personal: dict[str, str] | None = None  # part id -> digest (chained unless `clear`)
    clear: bool = False  # written before parts existed: the hash covers the identifiers


@dataclass(frozen=True)
class PersonalPart:
    """One person's identifiers in one audit entry: token number -> value, and a salt that
    keeps the digest chained in the entry from confirming a guessed value."""

    pid: str
    holder: str
    salt: str
    values: dict[str, str]


@dataclass(frozen=True)
class LegacyAuditEntry:
    """A line of the unchained audit log written before the chain (`marketplace_audit`)."""

    legacy_id: str
    at_us: int
    action: str
    actor: str
    subject: str
    details: dict[str, Any]


class Inserted(enum.Enum):
    """The outcome of `AuditStore.insert`."""

    DONE = "done"
    SEQ_TAKEN = "seq_taken"  # another writer appended first: seal again on the new head
    ORIGIN_EXISTS = "origin_exists"  # this origin (a migrated legacy line) is already in


@runtime_checkable
class AuditStore(Protocol):
    """The hash-chained audit log, and the legacy log it replaces."""

    async def head(self) -> AuditRecord | None:
        """The entry with the highest sequence number, or None when the log is empty."""
        ...

    async def insert(self, record: AuditRecord, *, origin: str | None = None) -> Inserted:
        """Insert at `record.seq` unless taken; `origin`, when given, is unique too."""
        ...

    async def insert_run(
        self, records: Sequence[AuditRecord], parts: Sequence[PersonalPart] = ()
    ) -> int:
        """Insert records of consecutive sequence numbers, in order, stopping at the first
        number already taken; how many were inserted (the leading ones). `parts` (personal
        parts the records name) are stored first, whatever the outcome (`put_parts`), in
        the same transaction where the backend has one."""
        ...

    async def newest(
        self,
        *,
        limit: int,
        before_seq: int | None = None,
        since_us: int | None = None,
        type: str | None = None,
    ) -> list[AuditRecord]:
        """Entries newest first (by sequence number), below `before_seq`, at or after
        `since_us`, of one `type`."""
        ...

    async def chain(self, after_seq: int, limit: int) -> list[AuditRecord]:
        """Entries in sequence order from just after `after_seq` (for verification)."""
        ...

    async def legacy_entries(self, limit: int) -> list[LegacyAuditEntry]:
        """The oldest lines of the legacy log still to be moved into the chain."""
        ...

    async def forget_legacy(self, legacy_ids: Sequence[str]) -> None:
        """Drop legacy lines once they are in the chain."""
        ...

    async def put_parts(self, parts: Sequence[PersonalPart]) -> None:
        """Store personal parts (before the entry naming them is inserted)."""
        ...

    async def parts(self, pids: Sequence[str]) -> dict[str, PersonalPart]:
        """The parts still stored among `pids` (an erased one is missing), by id."""
        ...

    async def erase_parts(self, holders: Sequence[str]) -> int:
        """Delete every part held by one of `holders`; how many were deleted."""
        ...

    async def protect(self, record: AuditRecord) -> bool:
        """Replace an entry's subject, details, before and after by `record`'s and set its
        `personal` and `clear`, unless it has parts already; whether it was replaced."""
        ...

    async def protected_through(self) -> int:
        """The sequence number up to which earlier entries were protected (0: none)."""
        ...

    async def set_protected_through(self, seq: int) -> None:
        """Record that entries up to `seq` are protected."""
        ...
