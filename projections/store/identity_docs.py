"""Members as stored documents, shared by both IdentityStores (no driver imported here).

A member is kept as one JSON object (SQLite `identity_people.doc`, a MongoDB document) of the
fields after `member_id`; a document from before the richer model (only `emails`) reads with
the defaults, so existing identity maps keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from projections.store.base import Claim, Conflict, Member


def member_doc(member: Member) -> dict[str, Any]:
    """The stored form of a member (without its id)."""
    return {
        "emails": list(member.emails),
        "name": member.name,
        "department": member.department,
        "manager": member.manager,
        "employment_status": member.employment_status,
        "worker_type": member.worker_type,
        "effective_at": member.effective_at,
        "accounts": [list(a) for a in member.accounts],
        "merged_into": member.merged_into,
    }


def doc_member(member_id: str, doc: Mapping[str, Any]) -> Member:
    """A member from its stored form (older documents hold only `emails`)."""
    return Member(
        member_id=member_id,
        emails=tuple(doc.get("emails") or ()),
        name=doc.get("name"),
        department=doc.get("department"),
        manager=doc.get("manager"),
        employment_status=doc.get("employment_status") or "active",
        worker_type=doc.get("worker_type") or "employee",
        effective_at=doc.get("effective_at"),
        accounts=tuple((h, n) for h, n in doc.get("accounts") or ()),
        merged_into=doc.get("merged_into"),
    )


def group_claims(claims: Iterable[Claim], by: str) -> dict[str, list[Claim]]:
    """Claims grouped by `key` or `member_id`, each group in (key, member) order."""
    found: dict[str, list[Claim]] = {}
    for claim in sorted(claims, key=lambda c: (c.key, c.member_id)):
        found.setdefault(getattr(claim, by), []).append(claim)
    return found


def sole_claimants(claims: Iterable[Claim]) -> dict[str, str]:
    """The member of each key exactly one member claims."""
    members: dict[str, set[str]] = {}
    for claim in claims:
        members.setdefault(claim.key, set()).add(claim.member_id)
    return {key: next(iter(m)) for key, m in members.items() if len(m) == 1}


def conflicts_of(claims: Iterable[Claim]) -> list[Conflict]:
    """The keys several members claim, by key."""
    grouped = group_claims(claims, "key")
    return [
        Conflict(key, tuple(c.member_id for c in found))
        for key, found in sorted(grouped.items())
        if len(found) > 1
    ]
