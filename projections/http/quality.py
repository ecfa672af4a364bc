"""The data-quality queue over HTTP (scope `admin`): what the projection could not map.

GET /quality: per reason, its count, what it means and a few example items (`?examples=N`,
default 3); `?reason=R` lists that reason's items instead, a page at a time (`?limit`,
`?after` = the last item id of the previous page). `?state=` open (default), resolved or
dismissed. The same views as `lrs quality list`.
"""

from __future__ import annotations

from aiohttp import web

from lrs.errors import BadRequest
from projections.http.envelope import ok, protected
from projections.quality import grouped, item_view
from projections.service import Projection
from projections.store.quality import OPEN, STATES
from projections.tokens import TokenClaims


@protected("admin")
async def quality(
    request: web.Request, claims: TokenClaims, projection: Projection
) -> web.StreamResponse:
    """GET /quality: grouped per reason, or one reason's items."""
    query = request.query
    state = query.get("state", OPEN)
    if state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}", field="state")
    store = projection.stores.quality
    reason = query.get("reason")
    if reason is None:
        groups = await grouped(store, state, examples=_int(query.get("examples"), "examples", 3))
        return ok(groups, state=state, total=sum(g["count"] for g in groups))
    limit = _int(query.get("limit"), "limit", 100)
    items = await store.list_items(state, reason=reason, limit=limit, after=query.get("after"))
    page = [item_view(i) for i in items]
    more = page[-1]["id"] if len(page) == limit else None
    return ok(page, state=state, reason=reason, count=len(page), next_after=more)


def _int(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise BadRequest(f"{name} must be a number from 1 to 1000", field=name)
    return int(text)
