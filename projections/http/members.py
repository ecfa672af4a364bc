"""The marketplace API handlers (`/marketplace/v1`): parse, call the projection, shape.

Scopes: `read:activity:aggregate` for learning records, aggregates and the export;
`read:profile` for a member's summary; `write:badge` to award badges; `admin` for status and
webhook subscriptions. `admin` holds every scope.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from aiohttp import web

from lrs.errors import BadRequest, ValidationError
from lrs.keys import statement_service_key
from lrs.xapi.timestamps import timestamp_us
from projections.badges import MAX_KEY, member_actor, parse_award, record_award
from projections.envelope import ok, projection_of, protected, public
from projections.errors import InvalidCursor, OAuthError
from projections.export import FORMATS, export_chunks, export_item
from projections.metrics import render_metrics
from projections.service import Projection
from projections.tokens import TokenClaims
from projections.webhooks import wall_clock_us

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


# --- OAuth 2.0 (RFC 6749 §4.4 client credentials, RFC 7009 revocation) -----------------------


def _oauth_error(err: OAuthError) -> web.Response:
    response = web.json_response(err.to_oauth(), status=err.status)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="marketplace"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def _client_credentials(request: web.Request) -> tuple[Any, Any]:
    """(form, authenticated client): HTTP Basic or form fields (RFC 6749 §2.3.1)."""
    form = await request.post()
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials") from exc
        client_id, _, secret = decoded.partition(":")
    else:
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if not client_id:
        raise OAuthError("invalid_client", "client authentication is required")
    return form, await projection_of(request).tokens.authenticate_client(client_id, secret)


async def token(request: web.Request) -> web.StreamResponse:
    """POST /oauth/token: grant_type=client_credentials → a short-lived JWT."""
    try:
        form, client = await _client_credentials(request)
        grant = form.get("grant_type")
        if grant is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        scope = form.get("scope")
        requested = str(scope).split() if scope else None
        issued = await projection_of(request).tokens.issue(client, requested)
    except OAuthError as err:
        return _oauth_error(err)
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(issued.scopes),
    }
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /oauth/revoke: RFC 7009; 200 whether or not the token was valid."""
    try:
        form, client = await _client_credentials(request)
        value = form.get("token")
        if not value:
            raise OAuthError("invalid_request", "token is required")
        await projection_of(request).tokens.revoke(str(value), client)
    except OAuthError as err:
        return _oauth_error(err)
    return web.Response(status=200)


# --- reads --------------------------------------------------------------------------------------


@protected("read:activity:aggregate")
async def member_learning(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /members/{member_id}/learning: the member's record per activity."""
    member_id = request.match_info["member_id"]
    records = await projection.member_learning(member_id)
    return ok([export_item(r) for r in records], member_id=member_id, count=len(records))


@protected("read:profile")
async def member_summary(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /members/{member_id}/summary: the member's roll-up."""
    return ok(await projection.member_summary(request.match_info["member_id"]))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1..{MAX_LIMIT}", parameter="limit")
    return int(raw)


def _since(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return timestamp_us(raw, path=name)
    except ValidationError as exc:
        raise BadRequest(f"{name} must be an ISO 8601 timestamp", parameter=name) from exc


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("the cursor is not one this API issued") from exc
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("after"), str)
        or not isinstance(state.get("since"), int | None)
    ):
        raise InvalidCursor("the cursor is not one this API issued")
    return state


@protected("read:activity:aggregate")
async def aggregates(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /aggregates: every record in update order, cursor-paged, optionally updated_since.

    The cursor is opaque and carries the query it started with (`updated_since`,
    `include_removed`), so paging is stable while records keep changing.
    """
    limit = _limit(request)
    cursor = request.query.get("cursor")
    if cursor:
        state = _decode_cursor(cursor)
    else:
        state = {
            "after": None,
            "since": _since(request, "updated_since"),
            "removed": request.query.get("include_removed") == "true",
        }
    try:
        page = await projection.stores.aggregates.page_records(
            after=state["after"],
            since_us=state.get("since"),
            limit=limit,
            include_removed=bool(state.get("removed")),
        )
    except ValueError as exc:
        raise InvalidCursor("the cursor is not one this API issued") from exc
    items = [
        export_item(r)
        | {"member_id": r.member_id, "activity_id": r.activity_id}
        | ({"removed": True} if r.record is None else {})
        for r in page.records
    ]
    next_cursor = (
        _encode_cursor({**state, "after": page.next_position}) if page.next_position else None
    )
    return ok(items, count=len(items), next_cursor=next_cursor)


@protected("read:activity:aggregate")
async def export(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /export?format=ndjson|csv&since=: the bulk export, streamed."""
    fmt = request.query.get("format", "ndjson")
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {list(FORMATS)}", parameter="format")
    since = _since(request, "since")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="marketplace-records.{fmt}"',
        }
    )
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression()
    await response.prepare(request)
    async for chunk in export_chunks(projection.stores.aggregates, fmt, since):
        await response.write(chunk)
    await response.write_eof()
    return response


# --- badges -------------------------------------------------------------------------------------


@protected("write:badge")
async def award_badge(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """POST /members/{member_id}/badges: record a badge as a statement, idempotently."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY:
        raise BadRequest(
            f"the Idempotency-Key header is required (1..{MAX_KEY} characters)",
            header="Idempotency-Key",
        )
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not JSON") from exc
    member_id = request.match_info["member_id"]
    award = parse_award(member_id, body, wall_clock_us())
    member = await projection.stores.identities.get_member(member_id)
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


# --- operations ---------------------------------------------------------------------------------


@protected("admin")
async def status(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /status: projection lag and webhook backlog."""
    return ok(await projection.status())


@public
async def metrics(request: web.Request, projection: Projection) -> web.StreamResponse:
    """GET /metrics: the same figures in the Prometheus text format."""
    return web.Response(
        text=render_metrics(await projection.status()),
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
