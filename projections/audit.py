"""The one append-only audit log: identity, OAuth client, token and key events, hash-chained.

Callers (the token service, identity operations after a merge, erasure, a reveal...) call
`AuditLog.append(type, actor=..., subject=..., details=..., before=..., after=...)`. The log
holds what they pass and nothing else; callers must not pass a secret or a token. The
identifiers of people an entry names are kept apart from the chain, so that an erasure can cut
them (`erase_person`) and the chain still verifies: see `projections.audit_personal`.

The chain. Entry n carries `seq` n (1, 2, 3 ... without gaps), `prev_hash` (the hash of entry
n-1; 64 zeros for the first) and `hash`: SHA-256 over the canonical JSON (sorted keys, no
spaces, UTF-8) of every other field (`chain_bytes`). `verify` walks the log in sequence order
and names the first entry whose hash no longer matches its fields (changed), whose sequence
number skips (a deleted entry), or whose `prev_hash` is not its predecessor's hash (moved or
reordered). A plain hash chain cannot see its newest entries cut off, nor a rewrite by someone
who recomputes every later hash: `verify` reports the head (sequence number and hash) so that
an operator can keep it elsewhere and pass it back (`expect_head`) to catch both.

Concurrent writers. An append reads the head, seals the entry on it and inserts it at the next
sequence number; the store takes each number once (`insert_run` stops at the first number
another writer took) and the append seals again on the new head. Within a process one writer
task writes the appends: what queued while a run was being written goes in the next run,
sealed one after another in the order the appends were called (one head read and one store
write for the lot, as the SQLite writer's group commit does for statements), so retries happen
only between processes (two `lrs` commands on one SQLite file, two MongoDB workers).

The unchained log of earlier versions is moved into the chain, oldest first, by
`adopt_legacy` (run when the projection opens); each line is moved once even when two
processes move them at the same time (the store's unique `origin`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from lrs.errors import StoreUnavailable
from projections.audit_personal import (
    altered_parts,
    missing_parts,
    personal_values,
    protect,
    reveal,
)
from projections.store.audit import AuditRecord, AuditStore, Inserted, PersonalPart
from projections.transforms import format_datetime

GENESIS = "0" * 64
MAX_ATTEMPTS = 100  # appends racing on one head: each round, one of them wins
_VERIFY_PAGE = 1000
_LEGACY_PAGE = 500


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON object as it will read back from any store (tuples as lists and so on)."""
    return None if value is None else orjson.loads(_canonical(dict(value)))


def chain_bytes(record: AuditRecord) -> bytes:
    """The canonical serialisation the entry's hash covers: every field but `hash` (its
    parts' digests when it has parts, and not for an entry sealed before parts existed)."""
    fields = {
        "seq": record.seq,
        "at_us": record.at_us,
        "type": record.type,
        "actor": record.actor,
        "subject": record.subject,
        "details": record.details,
        "before": record.before,
        "after": record.after,
        "prev_hash": record.prev_hash,
    }
    if record.personal is not None and not record.clear:
        fields["personal"] = record.personal
    return _canonical(fields)


def entry_hash(record: AuditRecord) -> str:
    """SHA-256 of `chain_bytes`, in hex."""
    return hashlib.sha256(chain_bytes(record)).hexdigest()


def seal(record: AuditRecord, head: AuditRecord | None) -> AuditRecord:
    """The entry placed after `head`: its sequence number, previous hash and hash set."""
    seq, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS)
    placed = replace(record, seq=seq, prev_hash=prev, hash="", clear=False)
    return replace(placed, hash=entry_hash(placed))


def entry_json(record: AuditRecord) -> dict[str, Any]:
    """An entry as the CLI and the admin API show it (times in ISO 8601, UTC)."""
    return {
        "seq": record.seq,
        "at": format_datetime(record.at_us),
        "type": record.type,
        "actor": record.actor,
        "subject": record.subject,
        "details": record.details,
        "before": record.before,
        "after": record.after,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


@dataclass(frozen=True)
class ChainBreak:
    """The first entry where the chain does not hold, and how."""

    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    """What `AuditLog.verify` found: entries walked, the head, the first break (if any)."""

    entries: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None
    erased: int = 0  # entries whose personal data an erasure cut (see audit_personal)

    @property
    def intact(self) -> bool:
        """No break found."""
        return self.broken is None


def check_link(
    record: AuditRecord, previous: AuditRecord | None, *, content: bool = True
) -> ChainBreak | None:
    """Whether `record` follows `previous` (None: it should be the first entry); with
    `content`, whether its hash matches its fields too."""
    expected_seq = previous.seq + 1 if previous is not None else 1
    if record.seq != expected_seq:
        return ChainBreak(
            expected_seq, f"entry {expected_seq} is missing (deleted): entry {record.seq} follows"
        )
    if record.prev_hash != (previous.hash if previous is not None else GENESIS):
        return ChainBreak(
            record.seq, "its prev_hash is not the previous entry's hash (reordered or replaced)"
        )
    if not content:
        return None
    try:
        matches = entry_hash(record) == record.hash
    except (TypeError, orjson.JSONEncodeError):  # a field edited into something not JSON
        matches = False
    if not matches:
        return ChainBreak(record.seq, "its content does not match its hash (changed)")
    return None


def _check_anchor(record: AuditRecord, expect: tuple[int, str] | None) -> ChainBreak | None:
    if expect is not None and record.seq == expect[0] and record.hash != expect[1]:
        return ChainBreak(record.seq, "its hash is not the one recorded for it (rewritten)")
    return None


def _report_end(
    count: int, head: AuditRecord | None, expect: tuple[int, str] | None, erased: int
) -> ChainReport:
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, "")
    broken = None
    if expect is not None and head_seq < expect[0]:
        broken = ChainBreak(
            head_seq + 1, f"entries {head_seq + 1} to {expect[0]} are missing (cut off)"
        )
    return ChainReport(count, head_seq, head_hash, broken, erased)


def check_entry(
    record: AuditRecord, previous: AuditRecord | None, parts: Mapping[str, PersonalPart]
) -> ChainBreak | None:
    """`check_link` with the entry's personal parts: a stored part must match the digest the
    entry chains; an entry sealed in clear is checked with its values put back, or for its
    place in the chain only once a part of it was erased."""
    if record.clear:
        if missing_parts(record, parts):
            return check_link(record, previous, content=False)
        return check_link(reveal(record, parts), previous)
    broken = check_link(record, previous)
    if broken is None and altered_parts(record, parts):
        return ChainBreak(record.seq, "its personal data does not match its digest (changed)")
    return broken


_Waiting = tuple[AuditRecord, list[PersonalPart], "asyncio.Future[AuditRecord]"]


class AuditLog:
    """Appends to, reads and verifies the hash-chained audit log."""

    def __init__(self, store: AuditStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(
        self,
        type: str,
        *,
        actor: str,
        subject: str,
        details: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        personal: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """Add an entry (`type` such as `identity.merged`); the sealed entry, its
        identifiers in place. `personal`: identifiers (-> holder) beyond those the entry's
        type names (`projections.audit_personal`)."""
        if not type or not all(isinstance(v, str) for v in (type, actor, subject)):
            raise ValueError("an audit entry needs a type, an actor and a subject (strings)")
        entry = AuditRecord(
            0,
            int(self._clock() * 1_000_000),
            type,
            actor,
            subject,
            _plain(details) or {},
            _plain(before),
            _plain(after),
        )
        values = {**personal_values(entry), **(personal or {})}
        kept, parts = protect(entry, values) if values else (entry, [])
        done: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((kept, parts, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="audit-writer")
        sealed = await done
        return replace(
            sealed,
            subject=entry.subject,
            details=entry.details,
            before=entry.before,
            after=entry.after,
        )

    async def _write_waiting(self) -> None:
        """Group commit: write every entry waiting in one run, again until none waits.

        A task of its own, not any caller's: a caller cancelled while its entry is being
        written neither interrupts the run nor leaves the others waiting (its entry may
        still be written). The run's personal parts are written with it, first, so that an
        entry never names a missing part.
        """
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                placed = await self._append_run(
                    [entry for entry, _p, _d in batch], [p for _e, ps, _d in batch for p in ps]
                )
            except BaseException as exc:
                failure = (
                    exc
                    if isinstance(exc, Exception)
                    else StoreUnavailable("the audit log writer was stopped")
                )
                for _entry, _parts, done in batch:
                    if not done.done():
                        done.set_exception(failure)
                if failure is not exc:
                    raise
                continue
            for (_entry, _parts, done), record in zip(batch, placed, strict=True):
                if not done.done():
                    done.set_result(record)

    async def _append_run(
        self, entries: list[AuditRecord], parts: list[PersonalPart]
    ) -> list[AuditRecord]:
        """Seal the entries one after another on the head and insert them (with their
        personal parts, the first time); the ones that lost their sequence numbers to
        another writer are sealed again on the new head."""
        placed: list[AuditRecord] = []
        for _ in range(MAX_ATTEMPTS):
            head = await self._store.head()
            run = []
            for entry in entries[len(placed) :]:
                head = seal(entry, head)
                run.append(head)
            inserted = await (
                self._store.insert_run(run, parts) if parts else self._store.insert_run(run)
            )
            placed, parts = placed + run[:inserted], []
            if len(placed) == len(entries):
                return placed
        raise StoreUnavailable("the audit log is too busy to append to; retry later")

    async def _place_once(self, entry: AuditRecord, origin: str) -> bool:
        """Append an entry unless its `origin` is in the log already; whether it was."""
        for _ in range(MAX_ATTEMPTS):
            sealed = seal(entry, await self._store.head())
            outcome = await self._store.insert(sealed, origin=origin)
            if outcome is not Inserted.SEQ_TAKEN:
                return outcome is Inserted.DONE
        raise StoreUnavailable("the audit log is too busy to append to; retry later")

    async def entries(
        self,
        *,
        limit: int = 100,
        before_seq: int | None = None,
        since_us: int | None = None,
        type: str | None = None,
    ) -> list[AuditRecord]:
        """Entries newest first: below `before_seq` (paging), at or after `since_us`, of
        `type`; identifiers in place (`[erased]` where erased)."""
        found = await self._store.newest(
            limit=limit, before_seq=before_seq, since_us=since_us, type=type
        )
        parts = await self._parts(found)
        return [reveal(record, parts) for record in found]

    async def entry(self, seq: int) -> AuditRecord | None:
        """Entry `seq` (for example the merge an undo reverses), or None."""
        found = await self.entries(limit=1, before_seq=seq + 1)
        return found[0] if found and found[0].seq == seq else None

    async def _parts(self, records: list[AuditRecord]) -> dict[str, PersonalPart]:
        return await self._store.parts([pid for r in records for pid in r.personal or {}])

    async def erase_person(self, holders: Sequence[str]) -> int:
        """Cut a person's identifiers out of every entry: `holders` are their member ids,
        identity keys and pseudonyms; how many parts were deleted."""
        return await self._store.erase_parts(holders)

    async def verify(self, expect_head: tuple[int, str] | None = None) -> ChainReport:
        """Walk the whole chain in order; the first break, if any.

        `expect_head` (a head reported earlier: sequence number, hash) must still be in the
        chain with that hash: otherwise the newest entries were cut off or rewritten.
        """
        previous: AuditRecord | None = None
        count = erased = 0
        while True:
            page = await self._store.chain(previous.seq if previous else 0, _VERIFY_PAGE)
            parts = await self._parts(page)
            for record in page:
                broken = check_entry(record, previous, parts)
                broken = broken or _check_anchor(record, expect_head)
                if broken is not None:
                    return ChainReport(count, record.seq, record.hash, broken, erased)
                erased += bool(missing_parts(record, parts))
                previous, count = record, count + 1
            if len(page) < _VERIFY_PAGE:
                return _report_end(count, previous, expect_head, erased)

    async def adopt_legacy(self) -> int:
        """Move the unchained lines of earlier versions into the chain; how many moved."""
        moved = 0
        while page := await self._store.legacy_entries(_LEGACY_PAGE):
            for line in page:
                entry = AuditRecord(
                    0, line.at_us, line.action, line.actor, line.subject, _plain(line.details) or {}
                )
                if await self._place_once(entry, f"{LEGACY_ORIGIN}{line.legacy_id}"):
                    moved += 1
            await self._store.forget_legacy([line.legacy_id for line in page])
        return moved

    async def protect_earlier(self, erased: Callable[[list[str]], Awaitable[set[str]]]) -> int:
        """Move the identifiers of entries written before personal parts existed into parts
        (`projections.audit_personal`); parts of holders `erased` says are gone are not
        written. Entries are scanned from where the last run stopped; how many changed."""
        head, start = await self._store.head(), await self._store.protected_through()
        if head is None or head.seq <= start:
            return 0
        changed, after = 0, start
        while after < head.seq and (page := await self._store.chain(after, _LEGACY_PAGE)):
            for record in page:
                changed += await self._protect_one(record, erased)
            after = page[-1].seq
        await self._store.set_protected_through(head.seq)
        return changed

    async def _protect_one(
        self, record: AuditRecord, erased: Callable[[list[str]], Awaitable[set[str]]]
    ) -> bool:
        values = personal_values(record) if record.personal is None else {}
        if not values:
            return False
        protected, parts = protect(record, values, clear=True)
        gone = await erased(sorted({p.holder for p in parts}))
        await self._store.put_parts([p for p in parts if p.holder not in gone])
        return await self._store.protect(protected)


LEGACY_ORIGIN = "marketplace_audit:"
