"""OAuth 2.0 of the marketplace: client credentials (RFC 6749 §4.4), revocation (RFC 7009).

The token endpoint also serves the delegated grants of registered apps (authorization_code,
refresh_token: `projections.http.oauth_delegated`); a client id starting `app_` is an app,
authenticated by its secret, or by nothing but PKCE when it is public.

The endpoints authenticate the client (RFC 6749 §2.3.1) and answer errors in the RFC 6749
§5.2 shape. A body that is not a well-formed form (a multipart body without a boundary, bytes
that are not UTF-8, a bad part header) is `invalid_request` (400). Failed client
authentications are limited per client id and per client address (`projections.ratelimit.
FailedAttempts`), concurrent attempts included; beyond the limit the answer is 429
`rate_limited` with `Retry-After`, before any secret is checked. An unknown client's attempts
are all failures, so they are limited per address. Authenticated requests are limited per
client too, at the client's rate limit (`--rate-limit`, else `LRS_MARKETPLACE_RATE_LIMIT`) in
a bucket of their own beside its API requests' one: 429 with `Retry-After`. Failed
authentications are audited (`client.authentication_failed`) by the token service.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

from lrs.forms import read_small_form
from projections.errors import OAuthError, RateLimited
from projections.http.envelope import projection_of
from projections.http.oauth_delegated import (
    GRANT_TYPES,
    TokenBody,
    access_body,
    delegated_token,
    form_text,
)
from projections.oauth_apps import is_app_id
from projections.ratelimit import FailedAttempts
from projections.store.base import ApiClient
from projections.store.oauth import OAuthApp

# What aiohttp raises for a body that is not a form: a missing or unknown boundary or charset
# and undecodable bytes (ValueError, LookupError), a bad part header (HttpProcessingError), a
# bad Content-Encoding (RequestPayloadError).
_MALFORMED_FORM = (ValueError, LookupError, HttpProcessingError, RequestPayloadError)


def _oauth_error(err: OAuthError | RateLimited) -> web.Response:
    body = {"error": err.code, "error_description": err.message}
    response = web.json_response(body, status=err.status)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="marketplace"'
    if isinstance(err, RateLimited):
        response.headers["Retry-After"] = str(err.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The request's form (at most 64 KiB); a body that does not parse is invalid_request
    (RFC 6749 §5.2)."""
    try:
        return await read_small_form(request)
    except _MALFORMED_FORM as exc:
        raise OAuthError("invalid_request", "the body is not a well-formed form") from exc


def _credentials(request: web.Request, form: MultiDictProxy[Any]) -> tuple[str, str]:
    """(client id, secret) from HTTP Basic or the form fields (RFC 6749 §2.3.1)."""
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
    return client_id, secret


Caller = ApiClient | OAuthApp


async def _authenticate(request: web.Request, client_id: str, secret: str) -> Caller:
    """A client-credentials client or a registered app (by its id's prefix)."""
    projection = projection_of(request)
    if is_app_id(client_id):
        return await projection.apps.authenticate(client_id, secret or None)
    address = request.remote or ""
    return await projection.tokens.authenticate_client(client_id, secret, address=address)


async def _client_credentials(request: web.Request) -> tuple[MultiDictProxy[Any], Caller]:
    """(form, authenticated client); failed attempts limited per address and per client id.

    An attempt is counted as failed before the secret is checked, so that concurrent attempts
    count too, and forgotten when the secret was right.
    """
    projection = projection_of(request)
    attempts, limits = projection.failed_logins, projection.settings
    address = "address:" + (request.remote or "")
    attempts.check(address, limits.token_failures_per_address)
    form = await _read_form(request)
    try:
        client_id, secret = _credentials(request, form)
    except OAuthError:
        attempts.record(address)
        raise
    client_key = "client:" + client_id
    attempts.check(client_key, limits.token_failures_per_client)
    counted = [(address, attempts.record(address)), (client_key, attempts.record(client_key))]
    try:
        client = await _authenticate(request, client_id, secret)
    except OAuthError:
        raise  # a failed attempt: it stays counted
    except BaseException:
        _forget(attempts, counted)
        raise
    _forget(attempts, counted)
    own = client.rate_limit_per_min if isinstance(client, ApiClient) else None
    projection.limiter.check("oauth:" + client.client_id, own or limits.rate_limit_per_min)
    return form, client


def _forget(attempts: FailedAttempts, counted: list[tuple[str, float]]) -> None:
    for key, at in counted:
        attempts.forget(key, at)


def _any_owner(client: Caller) -> bool:
    """An admin client may revoke and introspect any token; others only their own."""
    return isinstance(client, ApiClient) and "admin" in client.scopes


async def _issue(form: MultiDictProxy[Any], client: Caller, request: web.Request) -> TokenBody:
    """The token response of the form's grant type, for this client or app."""
    grant = form.get("grant_type")
    if grant is None:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", f"grant_type is one of {list(GRANT_TYPES)}")
    if (grant == "client_credentials") != isinstance(client, ApiClient):
        raise OAuthError("unauthorized_client", f"this client may not use {grant}")
    if isinstance(client, OAuthApp):
        return await delegated_token(projection_of(request), client, str(grant), form)
    scope = form.get("scope")
    requested = str(scope).split() if scope else None
    issued = await projection_of(request).tokens.issue(client, requested)
    return access_body(issued)


async def token(request: web.Request) -> web.StreamResponse:
    """POST /oauth/token: client_credentials, authorization_code or refresh_token → a
    short-lived JWT (and, for an app's grant, the next refresh token)."""
    try:
        form, client = await _client_credentials(request)
        body = await _issue(form, client, request)
    except (OAuthError, RateLimited) as err:
        return _oauth_error(err)
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /oauth/revoke: RFC 7009; 200 whether or not the token was valid."""
    try:
        form, client = await _client_credentials(request)
        value = form_text(form, "token")
        if not value:
            raise OAuthError("invalid_request", "token is required")
        grants = projection_of(request).grants
        await grants.revoke_token(value, client.client_id, any_owner=_any_owner(client))
    except (OAuthError, RateLimited) as err:
        return _oauth_error(err)
    return web.Response(status=200)


async def introspect(request: web.Request) -> web.StreamResponse:
    """POST /oauth/introspect: RFC 7662 for the caller's tokens (any, for an admin client)."""
    try:
        form, client = await _client_credentials(request)
        value = form_text(form, "token")
        if not value:
            raise OAuthError("invalid_request", "token is required")
        found = await projection_of(request).grants.introspect(
            value, client.client_id, any_owner=_any_owner(client)
        )
    except (OAuthError, RateLimited) as err:
        return _oauth_error(err)
    response = web.json_response(found)
    response.headers["Cache-Control"] = "no-store"
    return response
