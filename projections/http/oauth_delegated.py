"""Delegated OAuth over HTTP: the authorization endpoint and the app grants of the token
endpoint (authorization_code with PKCE, refresh_token with rotation).

GET /marketplace/v1/oauth/authorize checks the request (`projections.oauth_authorize`) and
sends the browser to the console's consent page (`/console/oauth/consent`, which signs the
operator in first when needed). An unknown app or an unregistered redirect URI is answered
with an error page here and is never redirected to; any other error goes back to the app's
registered redirect URI with `error`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from projections.errors import AuthorizeError, OAuthError
from projections.http.envelope import projection_of
from projections.oauth_authorize import check_request, error_redirect
from projections.oauth_grants import Tokens
from projections.service import Projection
from projections.store.oauth import OAuthApp
from projections.tokens import IssuedToken

CONSENT = "/console/oauth/consent"
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
TokenBody = dict[str, Any]


def access_body(issued: IssuedToken) -> TokenBody:
    """RFC 6749 §5.1 for an access token."""
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(issued.scopes),
    }


def _grant_body(tokens: Tokens) -> TokenBody:
    return {**access_body(tokens.access), "refresh_token": tokens.refresh_token}


def form_text(form: MultiDictProxy[Any], name: str) -> str:
    """A text field of the form ("" when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def delegated_token(
    projection: Projection, app: OAuthApp, grant_type: str, form: MultiDictProxy[Any]
) -> TokenBody:
    """The token response of an app's authorization_code or refresh_token request."""
    grants = projection.grants
    if grant_type == "authorization_code":
        code, uri = form_text(form, "code"), form_text(form, "redirect_uri")
        tokens = await grants.exchange_code(app, code, uri, form_text(form, "code_verifier"))
    elif grant_type == "refresh_token":
        scope = form_text(form, "scope") or None
        tokens = await grants.refresh(app, form_text(form, "refresh_token"), scope)
    else:
        raise OAuthError("unsupported_grant_type", f"an app may not use {grant_type}")
    return _grant_body(tokens)


def error_page(err: AuthorizeError) -> web.Response:
    """An authorization error shown to the person in the browser (nothing redirects)."""
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Authorization refused</title>"
        f"<h1>Authorization refused</h1><p id=error>{html.escape(err.code)}: "
        f"{html.escape(err.message)}</p><p>The app's request cannot be answered; nothing was "
        "sent back to it.</p></html>"
    )
    response = web.Response(text=page, status=400, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


async def authorize(request: web.Request) -> web.StreamResponse:
    """GET /oauth/authorize: check the request, then on to the console's consent page."""
    projection = projection_of(request)
    query = {k: v for k, v in request.query.items()}
    app = await projection.apps.get(query.get("client_id", ""))
    try:
        checked = check_request(app, query)
    except AuthorizeError as err:
        if not err.redirectable:
            return error_page(err)
        iss = projection.tokens.issuer
        location = error_redirect(query["redirect_uri"], err, query.get("state"), iss)
        return web.Response(status=302, headers={"Location": location})
    location = f"{CONSENT}?{urlencode(checked.params())}"
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
