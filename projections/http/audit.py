"""GET /admin/audit: the audit log, newest first, paged (scope `admin`).

Query: `since` (ISO 8601: entries at or after it), `type` (one entry type), `limit` (1..1000,
100 by default) and `cursor` (`meta.next_cursor` of the previous page: the sequence number the
next page starts below). Any bad parameter is a 400 naming it.
"""

from __future__ import annotations

from aiohttp import web

from lrs.errors import BadRequest
from lrs.params import ascii_int
from projections.audit import entry_json
from projections.errors import InvalidCursor
from projections.http.envelope import ok, protected
from projections.http.records import limit_param, since_param
from projections.service import Projection
from projections.tokens import TokenClaims

MAX_TYPE_LENGTH = 200


def _type(request: web.Request) -> str | None:
    value = request.query.get("type")
    if value is not None and not 1 <= len(value) <= MAX_TYPE_LENGTH:
        raise BadRequest(f"type must be 1..{MAX_TYPE_LENGTH} characters", parameter="type")
    return value


def _cursor(request: web.Request) -> int | None:
    raw = request.query.get("cursor")
    if raw is None:
        return None
    seq = ascii_int(raw)
    if seq is None or not 1 <= seq <= 2**62:
        raise InvalidCursor("the cursor is not one this API issued", parameter="cursor")
    return seq


@protected("admin")
async def audit_log(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /admin/audit?since=&type=&limit=&cursor=: entries newest first."""
    limit = limit_param(request)
    records = await projection.audit.entries(
        limit=limit,
        before_seq=_cursor(request),
        since_us=since_param(request, "since"),
        type=_type(request),
    )
    more = len(records) == limit and records[-1].seq > 1
    next_cursor = str(records[-1].seq) if more else None
    return ok([entry_json(r) for r in records], count=len(records), next_cursor=next_cursor)
