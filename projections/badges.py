"""A badge awarded outside the LMS → an xAPI statement (pure), and its idempotent recording.

The statement goes through the one write path (`StatementService.store_statements`) and is
projected like any other: the mapping's badge rows read the extension below. Its id is a
UUIDv5 of (client, Idempotency-Key), so a replayed request yields the same statement.

    actor   the member's HRIS account (homePage LRS_HRIS_HOME_PAGE), else their primary email
    verb    http://specification.openbadges.org/xapi/verbs/earned
    object  the learning activity the badge was earned in
    result  extensions[urn:lrs-marketplace:extension:badge] = {id, metadata}
    timestamp  issued_at (default: now)
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from lrs.errors import BadRequest, StatementConflict
from lrs.services.statements import StatementService
from projections.errors import IdempotencyKeyReused, MemberNotFound
from projections.store.base import AccessStore, Member, SavedResponse
from projections.transforms import format_datetime, is_http_url, parse_iso8601

BADGE_VERB = "http://specification.openbadges.org/xapi/verbs/earned"
BADGE_EXTENSION = "urn:lrs-marketplace:extension:badge"
NAMESPACE = uuid.UUID("0c7d7b53-8a4e-5f55-9a4e-6d1f3a0b5c21")
MAX_KEY = 255


@dataclass(frozen=True)
class BadgeAward:
    """A checked award request."""

    member_id: str
    badge_id: str
    activity_id: str
    issued_at: str
    metadata: dict[str, Any]


def parse_award(member_id: str, body: Any, now_us: int) -> BadgeAward:
    """Check the request body; BadRequest names the bad field."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    badge_id, activity_id = body.get("badge_id"), body.get("activity_id")
    if not isinstance(badge_id, str) or not badge_id.strip():
        raise BadRequest("badge_id is required", field="badge_id")
    if not isinstance(activity_id, str) or not is_http_url(activity_id):
        raise BadRequest("activity_id must be an absolute http(s) IRI", field="activity_id")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object", field="metadata")
    issued_at = body.get("issued_at")
    if issued_at is None:
        issued = format_datetime(now_us)
    else:
        parsed = parse_iso8601(issued_at, None)
        if parsed is None:
            raise BadRequest("issued_at must be an ISO 8601 timestamp", field="issued_at")
        issued = parsed
    return BadgeAward(member_id, badge_id.strip(), activity_id, issued, metadata)


def badge_statement(
    award: BadgeAward, *, statement_id: str, actor: dict[str, Any]
) -> dict[str, Any]:
    """The xAPI statement recording the award."""
    return {
        "id": statement_id,
        "actor": actor,
        "verb": {"id": BADGE_VERB, "display": {"en-US": "earned"}},
        "object": {"objectType": "Activity", "id": award.activity_id},
        "result": {
            "extensions": {BADGE_EXTENSION: {"id": award.badge_id, "metadata": award.metadata}}
        },
        "timestamp": award.issued_at,
        "context": {"platform": "talent-marketplace"},
    }


def member_actor(member_id: str, hris_home_page: str | None, member: Member | None) -> dict:
    """The actor for a member: HRIS account when configured, else their primary email."""
    if hris_home_page:
        return {"objectType": "Agent", "account": {"homePage": hris_home_page, "name": member_id}}
    if member is not None and member.emails:
        return {"objectType": "Agent", "mbox": f"mailto:{member.emails[0]}"}
    raise MemberNotFound(
        f"member {member_id} is not in the identity map and no HRIS home page is configured",
        member_id=member_id,
    )


async def record_award(
    service: StatementService,
    access: AccessStore,
    *,
    client_id: str,
    idempotency_key: str,
    award: BadgeAward,
    actor: dict[str, Any],
    authority: dict[str, Any],
) -> SavedResponse:
    """Store the award once per (client, key) and keep the first response for replays."""
    key = f"{client_id}\n{idempotency_key}"
    request_hash = hashlib.sha256(
        orjson.dumps(
            {
                "m": award.member_id,
                "b": award.badge_id,
                "a": award.activity_id,
                "t": award.issued_at,
                "md": award.metadata,
            },
            option=orjson.OPT_SORT_KEYS,
        )
    ).hexdigest()
    saved = await access.saved_response(key)
    if saved is not None:
        if saved.request_hash != request_hash:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
        return saved
    statement_id = str(uuid.uuid5(NAMESPACE, key))
    statement = badge_statement(award, statement_id=statement_id, actor=actor)
    try:
        await service.store_statements(statement, authority=authority, version="1.0.3")
    except StatementConflict as exc:  # the same key, concurrently, with another body
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request") from exc
    body = {
        "data": {
            "statement_id": statement_id,
            "member_id": award.member_id,
            "badge_id": award.badge_id,
            "activity_id": award.activity_id,
            "issued_at": award.issued_at,
            "metadata": award.metadata,
        }
    }
    first = SavedResponse(key, request_hash, 201, orjson.dumps(body))
    kept = await access.save_response(first)
    if kept.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return kept
