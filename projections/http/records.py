"""Every record at once: the cursor-paged aggregates and the streamed bulk export.

Scopes (`projections.scopes`): the aggregates need any record scope (`read:enrollments`,
`read:completions`, `read:scores`, `read:badges`, or their union `read:activity:aggregate`),
and each record carries the fields the token's scopes cover; the export is a bulk operation,
`admin` (or, as before the finer scopes, `read:activity:aggregate`): it holds whole records.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from lrs.errors import BadRequest, ValidationError
from lrs.params import is_ascii_digits
from lrs.xapi.timestamps import timestamp_us
from projections.errors import InvalidCursor
from projections.export import FORMATS, export_chunks, export_item, spooled_export
from projections.http.envelope import ok, protected
from projections.scopes import EXPORT, READ_RECORDS
from projections.service import Projection
from projections.tokens import TokenClaims

MAX_LIMIT = 1000
_SEND_BLOCK = 64 * 1024
DEFAULT_LIMIT = 100


def limit_param(request: web.Request) -> int:
    """The `limit` query parameter: 1..MAX_LIMIT, DEFAULT_LIMIT when absent; else a 400."""
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not is_ascii_digits(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1..{MAX_LIMIT}", parameter="limit")
    return int(raw)


def _flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter: `true` or `false` (absent: false); anything else is a 400."""
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false", parameter=name)
    return raw == "true"


def since_param(request: web.Request, name: str) -> int | None:
    """An ISO 8601 query parameter as epoch microseconds (None when absent); else a 400."""
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


@protected(*READ_RECORDS)
async def aggregates(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /aggregates: every record in update order, cursor-paged, optionally updated_since.

    The cursor is opaque and carries the query it started with (`updated_since`,
    `include_removed`), so paging is stable while records keep changing.
    """
    limit = limit_param(request)
    cursor = request.query.get("cursor")
    if cursor:
        state = _decode_cursor(cursor)
    else:
        state = {
            "after": None,
            "since": since_param(request, "updated_since"),
            "removed": _flag(request, "include_removed"),
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
    public = await projection.disclosure.public_ids(r.member_id for r in page.records)
    view = claims.fields
    items = [
        view.record(
            export_item(r, public[r.member_id])
            | {"member_id": public[r.member_id], "activity_id": r.activity_id}
            | ({"removed": True} if r.record is None else {})
        )
        for r in page.records
    ]
    next_cursor = (
        _encode_cursor({**state, "after": page.next_position}) if page.next_position else None
    )
    return ok(items, count=len(items), next_cursor=next_cursor)


@protected(*EXPORT)
async def export(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /export?format=ndjson|csv&since=: the bulk export, streamed; with `since` a delta
    (removals included). `Want-Repr-Digest: sha-256=N` asks for its `Repr-Digest`."""
    fmt = request.query.get("format", "ndjson")
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {list(FORMATS)}", parameter="format")
    since = since_param(request, "since")
    headers = {
        "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
        "Content-Disposition": f'attachment; filename="marketplace-records.{fmt}"',
    }
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    chunks = export_chunks(projection.stores.aggregates, fmt, since, projection.disclosure)
    if wants_sha256(request.headers.get("Want-Repr-Digest")):
        return await _digested(request, chunks, headers, gzipped)
    response = web.StreamResponse(headers=headers)
    if gzipped:
        response.enable_compression()
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


def wants_sha256(header: str | None) -> bool:
    """Whether a `Want-Repr-Digest` header (RFC 9530 §4) asks for sha-256 (preference > 0)."""
    for member in (header or "").split(","):
        name, _, preference = member.strip().partition("=")
        if name.strip().lower() == "sha-256" and preference.strip() not in ("", "0"):
            return True
    return False


async def _digested(
    request: web.Request,
    chunks: AsyncIterator[bytes],
    headers: dict[str, str],
    gzipped: bool,
) -> web.StreamResponse:
    """The export made whole first (spooled), then sent with its `Repr-Digest` and length."""
    spool, size, digest = await spooled_export(chunks, compress=gzipped)
    with spool:
        headers = {**headers, "Repr-Digest": digest, "Content-Length": str(size)}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        while block := spool.read(_SEND_BLOCK):
            await response.write(block)
        await response.write_eof()
    return response
