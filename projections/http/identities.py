"""Identity handlers of the marketplace API (scope `admin`): conflicts, their resolution, and
the statements held for want of an identity. The same operations as `lrs identities`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lrs.errors import BadRequest
from projections.http.envelope import ok, protected
from projections.http.webhooks import json_object
from projections.identity_ops import conflict_json, parse_key
from projections.service import Projection
from projections.tokens import TokenClaims


@protected("admin")
async def list_conflicts(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /identities/conflicts: addresses and accounts several members claim."""
    conflicts = [conflict_json(c) for c in await projection.identities.conflicts()]
    return ok(conflicts, count=len(conflicts))


@protected("admin")
async def resolve_conflict(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /identities/conflicts/resolve: give an address (or account) to one claimant."""
    body = await json_object(request)
    member = body.get("member_id")
    if not isinstance(member, str) or not member:
        raise BadRequest("member_id is required", field="member_id")
    key = parse_key(_text(body, "address"), _account(body), projection.settings.domain_aliases)
    dropped, moved = await projection.identities.resolve(key, member, actor=claims.client_id)
    return ok({"key": key, "member_id": member, "dropped": dropped, "reprojected": moved})


@protected("admin")
async def unmatched(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /identities/unmatched: held statements, by what they wait on."""
    return ok((await projection.identities.unmatched()).to_json())


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", field=name)
    return value


def _account(body: dict[str, Any]) -> tuple[str, str] | None:
    account = body.get("account")
    if account is None:
        return None
    if not isinstance(account, dict) or not all(
        isinstance(account.get(k), str) and account.get(k) for k in ("homePage", "name")
    ):
        raise BadRequest("account must be {homePage, name}", field="account")
    return account["homePage"], account["name"]
