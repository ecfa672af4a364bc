"""The marketplace OAuth clients page (admins only): list, create (the secret shown once),
revoke, rotate a secret with a grace period; audited by the token service with the
operator's name. Thin: parse, call `console.clients`, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console import clients
from console.accounts import CAN_MANAGE
from console.http.auth import require, signed
from console.http.render import render
from console.http.services import projection
from lrs.errors import BadRequest
from projections.tokens import SCOPES


async def _page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    page = {
        "clients": await clients.client_rows(projection(request)),
        "scopes": SCOPES,
        "graces": clients.GRACES,
        **context,
    }
    return render(request, "clients.html", page, status=status)


@require(*CAN_MANAGE)
async def clients_page(request: web.Request) -> web.StreamResponse:
    """GET /console/clients."""
    return await _page(request)


@require(*CAN_MANAGE)
async def create(request: web.Request) -> web.StreamResponse:
    """POST /console/clients: a new client; its secret shown this once."""
    form = await request.post()
    try:
        new = await clients.create(projection(request), form, signed(request).operator.name)
    except BadRequest as exc:
        return await _page(request, 400, error=exc.message)
    return await _page(request, created=new)


@require(*CAN_MANAGE)
async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /console/clients/{id}/revoke: the client and its tokens stop working."""
    client_id = request.match_info["id"]
    await clients.revoke(projection(request), client_id, signed(request).operator.name)
    return await _page(request, notice=f"Revoked {client_id} and every token it holds.")


@require(*CAN_MANAGE)
async def rotate(request: web.Request) -> web.StreamResponse:
    """POST /console/clients/{id}/rotate: a new secret, shown once; the old one's grace."""
    form = await request.post()
    client_id = request.match_info["id"]
    try:
        rotated = await clients.rotate(
            projection(request), client_id, form, signed(request).operator.name
        )
    except BadRequest as exc:
        return await _page(request, 400, error=exc.message)
    return await _page(request, rotated=rotated)
