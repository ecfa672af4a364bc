"""Login, logout and set-password: the console's only pages open without a session."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from console.http.auth import (
    COOKIE,
    PATH,
    PRE_COOKIE,
    check_form_token,
    form_token,
    set_cookie,
    signed,
)
from console.http.render import render, see_other
from console.keys import accounts_key, sessions_key
from console.next_page import safe_next
from lrs.errors import BadRequest, TooManyRequests


def _pre_login(
    request: web.Request, template: str, context: Mapping[str, object], status: int = 200
) -> web.Response:
    token = form_token(request)
    response = render(request, template, {"csrf": token, **context}, status=status)
    set_cookie(request, response, PRE_COOKIE, token)
    return response


def _next(source: Mapping[str, object]) -> str:
    """Where to go after signing in: a local console page only (`console.next_page`)."""
    value = source.get("next")
    return safe_next(value if isinstance(value, str) else None)


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /console/login."""
    return _pre_login(request, "login.html", {"name": "", "next": _next(request.query)})


async def log_in(request: web.Request) -> web.StreamResponse:
    """POST /console/login: a new session on success (never the one the browser had)."""
    form = await request.post()
    check_form_token(request, form)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    after = _next(form)
    accounts = request.app[accounts_key]
    try:
        operator = await accounts.log_in(name, password, request.remote or "unknown")
    except TooManyRequests as exc:
        wait = getattr(exc, "retry_after", 60)
        message = f"Too many failed sign-ins. Try again in {wait} seconds."
        context = {"name": name, "error": message, "next": after}
        response = _pre_login(request, "login.html", context, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if operator is None:
        error = "Unknown name or wrong password (or the account is disabled)."
        return _pre_login(request, "login.html", {"name": name, "error": error, "next": after}, 401)
    session_id = await request.app[sessions_key].start(operator)
    await accounts.audit_login(operator.name)
    response = see_other(after)
    set_cookie(request, response, COOKIE, session_id)
    response.del_cookie(PRE_COOKIE, path=PATH)
    return response


async def log_out(request: web.Request) -> web.StreamResponse:
    """POST /console/logout (with the CSRF token, checked by the middleware)."""
    found = signed(request)
    await request.app[sessions_key].end(found.session_id)
    await request.app[accounts_key].audit_logout(found.operator.name)
    response = see_other("/console/login")
    response.del_cookie(COOKIE, path=PATH)
    return response


async def password_form(request: web.Request) -> web.StreamResponse:
    """GET /console/set-password?token=...: the form (the token is checked on POST)."""
    return _pre_login(request, "set_password.html", {"token": request.query.get("token", "")})


async def set_password(request: web.Request) -> web.StreamResponse:
    """POST /console/set-password: use the one-time link, then sign in."""
    form = await request.post()
    check_form_token(request, form)
    token, password = str(form.get("token", "")), str(form.get("password", ""))
    if password != str(form.get("confirm", "")):
        error = "The two passwords differ."
        return _pre_login(request, "set_password.html", {"token": token, "error": error}, 400)
    try:
        name = await request.app[accounts_key].set_password(token, password)
    except BadRequest as exc:
        context = {"token": token, "error": exc.message}
        return _pre_login(request, "set_password.html", context, 400)
    return _pre_login(request, "login.html", {"name": name, "notice": f"Password set for {name}."})
