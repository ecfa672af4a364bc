"""The member pages: a search box (`/console/members`) and a member explained
(`/console/members/{id}`). Thin: parse, call `console.members`, render. Every role may read
them, as every role may read the statements they come from."""

from __future__ import annotations

from aiohttp import web

from console import members
from console.http.render import render
from console.keys import projection_app_key
from lrs.errors import BadRequest
from projections.keys import projection_key


async def search(request: web.Request) -> web.StreamResponse:
    """GET /console/members?q=: the members an id or an address names."""
    projection = request.app[projection_app_key][projection_key]
    text = request.query.get("q", "")
    try:
        found = await members.find_members(projection, text)
    except BadRequest as exc:
        context = {"q": text[: members.MAX_QUERY], "found": [], "error": exc.message}
        return render(request, "members.html", context, status=400)
    return render(request, "members.html", {"q": text, "found": found, "searched": bool(text)})


async def member(request: web.Request) -> web.StreamResponse:
    """GET /console/members/{id}: records with provenance, identity history, audit entries."""
    projection = request.app[projection_app_key][projection_key]
    view = await members.member_view(projection, request.match_info["id"])
    return render(request, "member.html", {"view": view, "scan": members.AUDIT_SCAN})
