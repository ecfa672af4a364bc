"""Rendering a console page: the template, the signed-in operator and the CSRF token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from console.keys import signed_key
from console.secrets import csrf_token


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """The page, with what the layout needs (who is signed in, the forms' CSRF token)."""
    found = request.get(signed_key)
    page = {"operator": found.operator if found else None, "path": request.path, **context}
    if found is not None and "csrf" not in page:
        page["csrf"] = csrf_token(found.session_id)
    response = aiohttp_jinja2.render_template(template, request, page, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def see_other(location: str) -> web.Response:
    """A 303 to `location` (after a form, and to the login page), cookies settable on it."""
    return web.Response(status=303, headers={"Location": location})
