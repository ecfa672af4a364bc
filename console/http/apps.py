"""The marketplace apps page (admins only): the registered apps of delegated OAuth, register
one (a confidential app's secret shown once), revoke one. Thin: parse, call `console.apps` or
the apps service, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console import apps
from console.accounts import CAN_MANAGE, actor_of
from console.http.auth import require, signed
from console.http.render import render, see_other
from console.http.services import projection
from lrs.errors import BadRequest
from projections.scopes import SCOPES

FIELDS = {"name": "Name", "redirect_uris": "Redirect URIs", "scopes": "Scopes", "kind": "Kind"}


async def _page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    page = {
        "apps": await projection(request).apps.list(),
        "scopes": SCOPES,
        "form": {},
        **context,
    }
    return render(request, "apps.html", page, status=status)


@require(*CAN_MANAGE)
async def apps_page(request: web.Request) -> web.StreamResponse:
    """GET /console/apps."""
    return await _page(request)


@require(*CAN_MANAGE)
async def register(request: web.Request) -> web.StreamResponse:
    """POST /console/apps: a new app; a confidential app's secret shown this once."""
    form = await request.post()
    try:
        new = await apps.register(projection(request), form, signed(request).operator.name)
    except BadRequest as exc:
        field = str(exc.details.get("field", ""))
        typed = {
            "name": form.get("name", ""),
            "redirect_uris": form.get("redirect_uris", ""),
            "kind": form.get("kind", ""),
            "scopes": form.getall("scopes", []),
        }
        error = f"{FIELDS.get(field, 'Form')}: {exc.message}"
        return await _page(request, 400, error=error, error_field=field, form=typed)
    return await _page(request, created=new)


@require(*CAN_MANAGE)
async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /console/apps/{id}/revoke: the app and every grant's tokens of it stop; audited."""
    client_id = request.match_info["id"]
    who = actor_of(signed(request).operator.name)
    service = projection(request).apps
    # a revoked app is not revoked (nor audited) twice
    if await service.get(client_id) is None or not await service.revoke(client_id, actor=who):
        raise web.HTTPNotFound(text=f"no live app {client_id}")
    return see_other("/console/apps")
