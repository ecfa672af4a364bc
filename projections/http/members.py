"""Per-member marketplace handlers: learning records, summary, badge awards.

The path names a member by their public id: the HRIS id, or for the worker types
`LRS_PSEUDONYMOUS_WORKER_TYPES` names, their current pseudonym (`Projection.member_behind`).

Scopes (`projections.scopes`): any record scope (`read:enrollments`, `read:completions`,
`read:scores`, `read:badges`, or their union `read:activity:aggregate`) for learning records,
`read:profile` for a member's summary, `write:badge` to award badges (`admin` holds every
scope). Records and summaries carry the fields the token's scopes cover (`TokenClaims.fields`).
"""

from __future__ import annotations

import orjson
from aiohttp import web

from lrs.errors import BadRequest
from lrs.keys import statement_service_key
from projections.badges import MAX_KEY, member_actor, parse_award, record_award
from projections.export import export_item
from projections.http.envelope import ok, protected
from projections.scopes import READ_RECORDS
from projections.service import Projection
from projections.tokens import TokenClaims
from projections.webhooks import wall_clock_us

# --- reads --------------------------------------------------------------------------------------


@protected(*READ_RECORDS)
async def member_learning(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /members/{member_id}/learning: the member's record per activity."""
    public = request.match_info["member_id"]
    records = await projection.member_learning(await projection.member_behind(public))
    view = claims.fields
    items = [view.record(export_item(r, public)) for r in records]
    return ok(items, member_id=public, count=len(records))


@protected("read:profile")
async def member_summary(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /members/{member_id}/summary: the member's roll-up."""
    member_id = await projection.member_behind(request.match_info["member_id"])
    return ok(claims.fields.summary(await projection.member_summary(member_id)))


# --- badges -------------------------------------------------------------------------------------


@protected("write:badge")
async def award_badge(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /members/{member_id}/badges: record a badge as a statement, idempotently.

    The member must be in the identity map (404 `member_not_found` otherwise, nothing
    written): the HRIS says who exists, the marketplace cannot create members.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY:
        raise BadRequest(
            f"the Idempotency-Key header is required (1..{MAX_KEY} characters)",
            header="Idempotency-Key",
        )
    public = request.match_info["member_id"]
    member_id = await projection.member_behind(public)
    member = await projection.known_member(member_id)  # 404 before anything is written
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not JSON") from exc
    award = parse_award(public, body, wall_clock_us())  # the response names the public id
    client = await projection.stores.access.get_client(claims.client_id)
    authority = {
        "objectType": "Agent",
        "name": client.name if client else claims.client_id,
        "account": {"homePage": "urn:lrs-marketplace:clients", "name": claims.client_id},
    }
    saved = await record_award(
        request.app[statement_service_key],
        projection.stores.access,
        client_id=claims.client_id,
        idempotency_key=key,
        award=award,
        actor=member_actor(member_id, projection.settings.hris_home_page, member),
        authority=authority,
    )
    return web.Response(
        body=saved.body,
        status=saved.status,
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )
