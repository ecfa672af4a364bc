"""Who is asking: the session cookie, the CSRF check on every form, the role checks.

Only the console's own session cookie opens the console: an `Authorization` header (an xAPI
Basic key, a marketplace bearer token) is never looked at here. A request without a valid
session is sent to the login page (GET, with the page as `next`) or refused (403, anything
else). Every POST carries the session's CSRF token in the form field `csrf_token`; without
it, or with another one, 403. The forms of the login and set-password pages, before any
session, use a double-submit token: a random value in a `SameSite=Strict` cookie that the
form must repeat.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from console.keys import sessions_key, signed_key
from console.next_page import HOME
from console.secrets import csrf_token, valid_csrf
from console.sessions import Signed
from lrs.errors import Forbidden

COOKIE = "lrs_console"
PRE_COOKIE = "lrs_console_form"
PATH = "/console"
PUBLIC = ("/console/login", "/console/set-password")  # the pages before any session
STATIC = "/console/static/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, Secure over https, scoped to /console."""
    response.set_cookie(
        name, value, path=PATH, httponly=True, samesite="Strict", secure=request.secure
    )


def signed(request: web.Request) -> Signed:
    """The operator behind this request (set by the middleware)."""
    found: Signed = request[signed_key]
    return found


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session; send anonymous requests to the login page; check CSRF on POST."""
    unmatched = request.match_info.http_exception is not None  # a 404 or 405 to answer
    if unmatched or request.path in PUBLIC or request.path.startswith(STATIC):
        return await handler(request)
    found = await request.app[sessions_key].resolve(request.cookies.get(COOKIE))
    if found is None:
        if request.method in ("GET", "HEAD"):  # back here after signing in (`console.next_page`)
            location = "/console/login"
            if request.path_qs != HOME:
                location += "?" + urlencode({"next": request.path_qs})
            return web.Response(status=303, headers={"Location": location})
        raise Forbidden("sign in first: no valid console session")
    request[signed_key] = found
    if request.method == "POST":
        form = await request.post()
        if not valid_csrf(found.session_id, _text(form.get("csrf_token"))):
            raise Forbidden("the form's CSRF token is missing or wrong: reload the page")
    return await handler(request)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def require(*roles: str) -> Callable[[Handler], Handler]:
    """Let only operators of these roles through (403 for the others), on the server."""

    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            if signed(request).operator.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}")
            return await handler(request)

        return checked

    return wrap


def page_csrf(request: web.Request) -> str:
    """The CSRF token for the forms of a signed-in page."""
    return csrf_token(signed(request).session_id)


def form_token(request: web.Request) -> str:
    """The double-submit token of a form shown before login (kept, or new)."""
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)


def check_form_token(request: web.Request, form: Any) -> None:
    """403 unless the pre-login form repeats its cookie's token."""
    cookie, presented = request.cookies.get(PRE_COOKIE), _text(form.get("csrf_token"))
    if not cookie or presented is None or not secrets.compare_digest(cookie, presented):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page")
