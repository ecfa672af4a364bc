"""What the identity-conflicts page shows and does, as plain functions of the projection.

The same operations as `lrs identities conflicts|resolve|unmatched` and the identity admin
API (`projections.identity_ops.IdentityService`): the addresses and accounts several members
claim (their statements are held, never guessed), giving one to a claimant (its statements
are projected to that member at once), and the statements held for want of any identity.
Resolving writes the service's own audit entry (`identities.resolve`) with the operator as
its actor, so the console adds no second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.accounts import actor_of
from lrs.errors import BadRequest
from projections.identity import ACCOUNT, EMAIL
from projections.identity_ops import UnmatchedReport, describe_key
from projections.service import Projection


@dataclass(frozen=True)
class ConflictRow:
    """A conflict as a line of the page: its key (for the form), as read, its claimants."""

    key: str
    described: str
    claimants: tuple[str, ...]


@dataclass(frozen=True)
class Resolved:
    """What a resolution did: the claimants that lost the key, the facts projected again."""

    key: str
    described: str
    member_id: str
    dropped: list[str]
    moved: int


async def conflict_rows(projection: Projection) -> list[ConflictRow]:
    """Every open conflict, by key."""
    return [
        ConflictRow(c.key, describe_key(c.key), c.claimants)
        for c in await projection.identities.conflicts()
    ]


async def unmatched(projection: Projection) -> UnmatchedReport:
    """Statements held for want of an identity (as `GET /identities/unmatched`)."""
    return await projection.identities.unmatched()


def parse_resolution(form: Mapping[str, Any]) -> tuple[str, str]:
    """(key, member) from the form: a claim key as listed, and the member chosen."""
    key = str(form.get("key", "")).strip()
    member = str(form.get("member_id", "")).strip()
    if not key.startswith((EMAIL, ACCOUNT)):
        raise BadRequest("key must be an address or account as listed", field="key")
    if not member:
        raise BadRequest("choose the member the address or account belongs to", field="member_id")
    return key, member


async def resolve(projection: Projection, form: Mapping[str, Any], operator: str) -> Resolved:
    """Give the key to the chosen claimant (NotAConflict, 409, when it is not one of them)."""
    key, member = parse_resolution(form)
    dropped, moved = await projection.identities.resolve(key, member, actor=actor_of(operator))
    return Resolved(key, describe_key(key), member, dropped, moved)
