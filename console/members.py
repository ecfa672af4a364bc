"""The console's member pages: finding a member, and a member's records explained.

A member is found by member id (the HRIS employee id, or an id merged into another member:
its `hris:` claim), or by an email address the member holds or held (normalised as the
projection normalises it). The member page shows each marketplace record field by field with
the statement ids the value comes from (the record's own `provenance`), the identity history
the identity map keeps (addresses and LMS accounts with their validity), and the audit
entries that name the member.

The audit log has no index by person: the page reads the newest `AUDIT_SCAN` entries (with
their identifiers put back) and keeps those naming the member, which the page says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.errors import BadRequest, NotFound
from projections.aggregates import FIELDS
from projections.audit import AuditLog
from projections.identity import EMAIL, HRIS
from projections.identity_ops import describe_key
from projections.service import Projection
from projections.store.audit import AuditRecord
from projections.store.base import Claim, Member, StoredRecord
from projections.transforms import format_datetime, normalize_email

AUDIT_SCAN = 2000
AUDIT_SHOWN = 50
MAX_QUERY = 320


@dataclass(frozen=True)
class FieldRow:
    """One field of a record: its value as JSON text and the statements it comes from."""

    name: str
    value: str
    sources: list[str]


@dataclass(frozen=True)
class RecordView:
    """A member's record for one activity, field by field."""

    activity_id: str
    version: int
    updated_at: str
    fields: list[FieldRow]
    statements: list[str]


@dataclass(frozen=True)
class AuditRow:
    """An audit entry naming the member."""

    seq: int
    at: str
    type: str
    actor: str
    subject: str
    details: str


@dataclass(frozen=True)
class MemberView:
    """Everything the member page shows."""

    member_id: str
    member: Member | None
    records: list[RecordView]
    claims: list[tuple[str, str, str]]  # (identity, valid from, valid to)
    audit: list[AuditRow] = field(default_factory=list)
    audit_scanned: int = 0


def record_view(stored: StoredRecord) -> RecordView:
    """A stored record as rows: each field, its value and its provenance."""
    record = stored.record or {}
    provenance: dict[str, list[str]] = record.get("provenance") or {}
    rows = [
        FieldRow(name, orjson.dumps(record.get(name)).decode(), list(provenance.get(name, [])))
        for name in FIELDS
    ]
    return RecordView(
        stored.activity_id,
        stored.version,
        format_datetime(stored.updated_us),
        rows,
        list(provenance.get("statements", [])),
    )


def claim_rows(claims: list[Claim]) -> list[tuple[str, str, str]]:
    """The identity history, current claims first, then the newest ended one."""
    ordered = sorted(claims, key=lambda c: (c.valid_to is not None, c.valid_to or "", c.key))
    return [
        (
            _identity(c.key),
            c.valid_from or "(from the start)",
            c.valid_to or "current",
        )
        for c in ordered
    ]


def _identity(key: str) -> str:
    if key.startswith(HRIS):
        return f"employee id {key[len(HRIS) :]} (merged)"
    return describe_key(key)


def names_member(entry: AuditRecord, member_id: str) -> bool:
    """Whether the entry names the member: as its subject, or anywhere in what it records."""
    if entry.subject == member_id:
        return True
    parts = (entry.details, entry.before or {}, entry.after or {})
    return any(member_id in _strings(part) for part in parts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


async def member_audit(audit: AuditLog, member_id: str) -> tuple[list[AuditRow], int]:
    """The newest entries naming the member among the newest `AUDIT_SCAN`; how many were read."""
    entries = await audit.entries(limit=AUDIT_SCAN)
    rows = [
        AuditRow(
            e.seq,
            format_datetime(e.at_us),
            e.type,
            e.actor,
            e.subject,
            orjson.dumps(e.details, option=orjson.OPT_SORT_KEYS).decode(),
        )
        for e in entries
        if names_member(e, member_id)
    ]
    return rows[:AUDIT_SHOWN], len(entries)


async def member_view(projection: Projection, member_id: str) -> MemberView:
    """The member page's content; NotFound when the LRS knows nothing of the member."""
    ids = projection.stores.identities
    member = await ids.get_member(member_id)
    records = await projection.stores.aggregates.member_records(member_id)
    if member is None and not records:
        raise NotFound(f"no member {member_id}")
    claims = (await ids.member_claims([member_id])).get(member_id, [])
    audit, scanned = await member_audit(projection.audit, member_id)
    return MemberView(
        member_id,
        member,
        [record_view(r) for r in records],
        claim_rows(claims),
        audit,
        scanned,
    )


async def find_members(projection: Projection, text: str) -> list[str]:
    """The member ids a search names: by email address (current or earlier), else by member
    id (an HRIS id merged into another member finds that member). BadRequest for nonsense."""
    query = text.strip()
    if len(query) > MAX_QUERY:
        raise BadRequest(f"a search is at most {MAX_QUERY} characters", parameter="q")
    if not query:
        return []
    ids = projection.stores.identities
    if "@" in query:
        address = normalize_email(query.removeprefix("mailto:"), projection.settings.domain_aliases)
        if address is None:
            raise BadRequest("not an email address", parameter="q")
        claims = (await ids.claims_for([EMAIL + address])).get(EMAIL + address, [])
        return sorted({c.member_id for c in claims})
    found: set[str] = set()
    if await ids.get_member(query) is not None:
        found.add(query)
    found |= {c.member_id for c in (await ids.claims_for([HRIS + query])).get(HRIS + query, [])}
    if not found and await projection.stores.aggregates.member_records(query):
        found.add(query)  # records of a member the identity map no longer holds
    return sorted(found)
