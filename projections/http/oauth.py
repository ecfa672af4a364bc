"""OAuth 2.0 of the marketplace: client credentials (RFC 6749 §4.4), revocation (RFC 7009)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from lrs.forms import read_small_form
from projections.errors import OAuthError
from projections.http.envelope import projection_of


def _oauth_error(err: OAuthError) -> web.Response:
    response = web.json_response(err.to_oauth(), status=err.status)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="marketplace"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def _client_credentials(request: web.Request) -> tuple[Any, Any]:
    """(form, authenticated client): HTTP Basic or form fields (RFC 6749 §2.3.1)."""
    form = await read_small_form(request)
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials") from exc
        client_id, _, secret = decoded.partition(":")
    else:
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if not client_id:
        raise OAuthError("invalid_client", "client authentication is required")
    return form, await projection_of(request).tokens.authenticate_client(client_id, secret)


async def token(request: web.Request) -> web.StreamResponse:
    """POST /oauth/token: grant_type=client_credentials → a short-lived JWT."""
    try:
        form, client = await _client_credentials(request)
        grant = form.get("grant_type")
        if grant is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        scope = form.get("scope")
        requested = str(scope).split() if scope else None
        issued = await projection_of(request).tokens.issue(client, requested)
    except OAuthError as err:
        return _oauth_error(err)
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(issued.scopes),
    }
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /oauth/revoke: RFC 7009; 200 whether or not the token was valid."""
    try:
        form, client = await _client_credentials(request)
        value = form.get("token")
        if not value:
            raise OAuthError("invalid_request", "token is required")
        await projection_of(request).tokens.revoke(str(value), client)
    except OAuthError as err:
        return _oauth_error(err)
    return web.Response(status=200)
