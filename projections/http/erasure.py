"""The erasure handler of the marketplace API (scope `admin`): the same operation as
`lrs identities erase` (see `projections.erasure`)."""

from __future__ import annotations

from aiohttp import web

from projections.http.envelope import ok, protected
from projections.service import Projection
from projections.tokens import TokenClaims


@protected("admin")
async def erase_member(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """DELETE /members/{member_id}: erase the member the marketplace knows by this id (200
    with the counts, done when answered; 404 for an unknown id)."""
    member_id = await projection.member_behind(request.match_info["member_id"])
    done = await projection.erasure.erase(member_id, actor=claims.client_id)
    return ok(done.to_json())
