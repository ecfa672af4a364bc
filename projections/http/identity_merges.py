"""Merge handlers of the marketplace API (scope `admin`): the same operations as
`lrs identities merge` / `unmerge` (see `projections.identity_merge`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lrs.errors import BadRequest
from projections.http.envelope import ok, protected
from projections.http.webhooks import json_object
from projections.service import Projection
from projections.tokens import TokenClaims


@protected("admin")
async def merge(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /identities/merges: merge member `from` into member `into`, for `reason`."""
    body = await json_object(request)
    from_id, into_id, reason = (_text(body, name) for name in ("from", "into", "reason"))
    done = await projection.merges.merge(from_id, into_id, reason, actor=claims.client_id)
    return ok(done.to_json(), status=201)


@protected("admin")
async def unmerge(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /identities/merges/{seq}/undo: undo the merge audited as entry `seq`."""
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        raise BadRequest("seq must be an audit sequence number", field="seq") from None
    body = await json_object(request) if request.can_read_body else {}
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason must be a string", field="reason")
    done = await projection.merges.unmerge(seq, reason, actor=claims.client_id)
    return ok(done.to_json())


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} is required (a non-empty string)", field=name)
    return value
