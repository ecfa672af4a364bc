"""The marketplace API's envelope, errors and access checks, in one place.

Success: `{"data": ..., "meta": {...}}`. Failure: `{"error": {"code", "message", "details"}}`
with the LRS error's status; 401 and 403 carry `WWW-Authenticate: Bearer ...` (RFC 6750),
429 carries `Retry-After`. Every response has an `X-Request-Id`. Timestamps are UTC (`Z`).

`protected(*scopes)` wraps a handler: it checks the bearer token, the scope and the client's
rate limit, and turns any LRS error raised below it into the envelope.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from lrs.errors import InsufficientScope, InvalidToken, LRSError, TokenRequired
from projections.errors import RateLimited
from projections.keys import projection_key
from projections.service import Projection
from projections.tokens import TokenClaims

Handler = Callable[[web.Request, TokenClaims, Projection], Awaitable[web.StreamResponse]]


def ok(data: Any, status: int = 200, **meta: Any) -> web.Response:
    """A success envelope."""
    body: dict[str, Any] = {"data": data}
    if meta:
        body["meta"] = meta
    return _json(body, status)


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
    response.headers["X-Request-Id"] = uuid.uuid4().hex
    response.headers["Cache-Control"] = "no-store"
    return response


def error(err: LRSError) -> web.Response:
    """The error envelope for an LRS error, with the headers its status calls for."""
    details = {k: v for k, v in err.details.items() if v is not None}
    body = {"error": {"code": err.code, "message": err.message, "details": details}}
    headers = {}
    if err.status == 401:
        headers["WWW-Authenticate"] = (
            err.challenge("marketplace", error_description=err.code)
            if isinstance(err, InvalidToken)
            else 'Bearer realm="marketplace"'
        )
    if isinstance(err, InsufficientScope):
        headers["WWW-Authenticate"] = err.challenge(None)
    if isinstance(err, RateLimited):
        headers["Retry-After"] = str(err.retry_after)
    return _json(body, err.status, headers)


def bearer_token(request: web.Request) -> str:
    """The bearer token of the request (RFC 6750 §2.1), or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRequired("a bearer access token is required")
    return token.strip()


def projection_of(request: web.Request) -> Projection:
    """The wired projection."""
    return request.app[projection_key]


def protected(*scopes: str) -> Callable[[Handler], Callable[[web.Request], Awaitable[Any]]]:
    """Authenticate, authorise and rate-limit, then run the handler; errors as envelopes."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def handle(request: web.Request) -> web.StreamResponse:
            projection = projection_of(request)
            try:
                claims = await projection.tokens.verify(bearer_token(request))
                claims.require(*scopes)
                limit = claims.rate_limit_per_min or projection.settings.rate_limit_per_min
                projection.limiter.check(claims.client_id, limit)
                return await handler(request, claims, projection)
            except LRSError as err:
                return error(err)

        handle.scopes = scopes  # type: ignore[attr-defined]  # any one will do; for the docs test
        return handle

    return wrap


def public(
    marketplace: web.Application,
    handler: Callable[[web.Request, Projection], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Run an unauthenticated handler served outside the marketplace app (on the root) with
    that app's projection; errors as envelopes."""

    @functools.wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request, marketplace[projection_key])
        except LRSError as err:
            return error(err)

    return handle
