"""The console's side of delegated OAuth: the consent page, and the grants page (the apps
page, where apps are registered and revoked, is `console.http.apps`).

The consent page is where `/marketplace/v1/oauth/authorize` sends the browser. It checks the
request again (the query is the browser's to change), shows the app, the scopes asked for and
which of them the operator's role lets them grant, and a CSRF-protected Approve / Deny form.
Approve issues the code and redirects to the app's registered URI with `code`, `state` and
`iss` (RFC 9207); Deny with `error=access_denied`. The page's Content-Security-Policy lets its
form lead to that URI's origin: `form-action` also governs where a submitted form redirects.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import web

from console.accounts import CAN_MANAGE, actor_of
from console.grants import grant_page
from console.http.auth import require, signed
from console.http.render import render, see_other
from console.keys import projection_app_key
from lrs.errors import BadRequest
from projections.errors import AuthorizeError
from projections.keys import projection_key
from projections.oauth_authorize import (
    PARAMS,
    AuthorizeRequest,
    check_request,
    error_redirect,
    granted_scopes,
    redirect_with,
)
from projections.service import Projection


def _projection(request: web.Request) -> Projection:
    return request.app[projection_app_key][projection_key]


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


async def _checked(
    request: web.Request, params: Mapping[str, object]
) -> AuthorizeRequest | web.Response:
    """The checked request, or the answer to give instead (an error page or a redirect)."""
    query = {k: str(params[k]) for k in PARAMS if isinstance(params.get(k), str)}
    projection = _projection(request)
    app = await projection.apps.get(query.get("client_id", ""))
    try:
        return check_request(app, query)
    except AuthorizeError as err:
        if not err.redirectable:
            return render(request, "error.html", {"message": err.message}, status=400)
        iss = projection.tokens.issuer
        return _redirect(error_redirect(query["redirect_uri"], err, query.get("state"), iss))


async def consent(request: web.Request) -> web.StreamResponse:
    """GET /console/oauth/consent: what the app asks for, and Approve / Deny."""
    checked = await _checked(request, request.query)
    if isinstance(checked, web.Response):
        return checked
    role = signed(request).operator.role
    granted = granted_scopes(checked, role)
    context = {
        "ask": checked,
        "params": checked.params(),
        "granted": granted,
        "withheld": [s for s in checked.scopes if s not in granted],
    }
    page = render(request, "consent.html", context)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(checked.redirect_uri))
    policy = page.headers["Content-Security-Policy"]
    page.headers["Content-Security-Policy"] = policy.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    return page


async def decide(request: web.Request) -> web.StreamResponse:
    """POST /console/oauth/consent (CSRF checked by the middleware): approve or deny."""
    form = await request.post()
    checked = await _checked(request, form)
    if isinstance(checked, web.Response):
        return checked
    projection = _projection(request)
    iss = projection.tokens.issuer
    operator = signed(request).operator
    granted = granted_scopes(checked, operator.role)
    if form.get("decision") != "approve":
        err = AuthorizeError("access_denied", "the operator denied the request", redirectable=True)
        return _redirect(error_redirect(checked.redirect_uri, err, checked.state, iss))
    if not granted:
        message = "the operator's role may grant none of the scopes asked for"
        err = AuthorizeError("invalid_scope", message, redirectable=True)
        return _redirect(error_redirect(checked.redirect_uri, err, checked.state, iss))
    code = await projection.grants.approve(checked, granted, operator.name)
    params = {"code": code, "state": checked.state, "iss": iss}
    return _redirect(redirect_with(checked.redirect_uri, params))


@require(*CAN_MANAGE)
async def grants(request: web.Request) -> web.StreamResponse:
    """GET /console/grants?app=&before=: a page of grants (newest first), a `more` link."""
    client_id = request.query.get("app") or None
    context: dict[str, object] = {"app_filter": client_id or ""}
    try:
        page = await grant_page(_projection(request), client_id, request.query.get("before"))
    except BadRequest as exc:
        apps = await _projection(request).apps.list()
        context.update(grants=[], apps=apps, more=None, error=exc.message)
        return render(request, "grants.html", context, status=400)
    context.update(grants=page.rows, apps=page.apps, more=page.more)
    return render(request, "grants.html", context)


@require(*CAN_MANAGE)
async def revoke_grant(request: web.Request) -> web.StreamResponse:
    """POST /console/grants/{id}/revoke: the grant and every token of it stop; audited."""
    grant_id = request.match_info["id"]
    who = actor_of(signed(request).operator.name)
    grants_service = _projection(request).grants
    if not await grants_service.revoke_grant(grant_id, actor=who, reason="operator"):
        raise web.HTTPNotFound(text=f"no live grant {grant_id}")
    return see_other("/console/grants")
