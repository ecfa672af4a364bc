"""The identity-conflicts page: conflicts with a resolve form each, and the statements held for
want of an identity. Seen by every operator; resolved by operators and admins (audited by the
identity service with the operator's name). Thin: parse, call `console.conflicts`, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console import conflicts
from console.http.auth import require, signed
from console.http.render import render
from console.http.services import projection
from console.roles import CAN_ACT
from lrs.errors import BadRequest
from projections.errors import NotAConflict


async def _page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    market = projection(request)
    page = {
        "conflicts": await conflicts.conflict_rows(market),
        "unmatched": await conflicts.unmatched(market),
        "can_act": signed(request).operator.role in CAN_ACT,
        **context,
    }
    return render(request, "conflicts.html", page, status=status)


async def conflicts_page(request: web.Request) -> web.StreamResponse:
    """GET /console/conflicts."""
    return await _page(request)


@require(*CAN_ACT)
async def resolve(request: web.Request) -> web.StreamResponse:
    """POST /console/conflicts/resolve: the key goes to the chosen claimant."""
    form = await request.post()
    try:
        done = await conflicts.resolve(projection(request), form, signed(request).operator.name)
    except (BadRequest, NotAConflict) as exc:  # 400, 409: named on the page
        return await _page(request, exc.status, error=exc.message)
    return await _page(request, resolved=done)
