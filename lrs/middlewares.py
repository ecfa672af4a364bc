"""Errors → HTTP in ONE place, the xAPI version header on every response, CORS, and the
request-body timeout."""

from __future__ import annotations

import asyncio
import logging
import uuid

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

from lrs.auth import REALM
from lrs.errors import (
    BadRequest,
    LRSError,
    MethodNotAllowed,
    RequestTimeout,
    StoreUnavailable,
    Unauthorized,
)
from lrs.keys import settings_key, statement_service_key, version_out_key
from lrs.xapi.timestamps import format_us
from lrs.xapi.versions import HEADER

log = logging.getLogger(__name__)

CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
EXPOSED = (
    "ETag, Last-Modified, Content-Type, X-Experience-API-Version, "
    "X-Experience-API-Consistent-Through, Location"
)
ALLOWED_HEADERS = (
    "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, "
    "Accept-Language, X-Requested-With, Idempotency-Key"
)


# nginx's status for a request the client closed before the answer (only the access log sees it)
CLIENT_CLOSED_REQUEST = 499


def json_response(body: object, status: int = 200) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def error_response(error: LRSError) -> web.Response:
    """The JSON body and status for an LRS error."""
    response = json_response(error.to_json(), status=error.status)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = error.challenge_header or REALM
    if isinstance(error, StoreUnavailable):  # an outage of the store: worth retrying soon
        response.headers["Retry-After"] = "1"
    if isinstance(error, MethodNotAllowed):
        # RFC 9110 §15.5.6: a 405 MUST carry Allow.
        response.headers["Allow"] = ", ".join(error.details.get("allowed", ()))
    return response


def undecodable_body(exc: RequestPayloadError) -> BadRequest:
    """The 400 for a body aiohttp cannot decode (e.g. `Content-Encoding: gzip`, not gzip)."""
    return BadRequest(f"the request body cannot be read: {exc}")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON error; nothing else (no stack trace) reaches a client."""
    try:
        return await handler(request)
    except LRSError as error:
        return error_response(error)
    except RequestPayloadError as exc:
        return error_response(undecodable_body(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        response = json_response({"error": code, "message": exc.reason}, status=exc.status)
        if exc.status == 405:
            # RFC 9110 §15.5.6: a 405 MUST carry Allow (aiohttp's own 405 sets it).
            response.headers["Allow"] = exc.headers.get("Allow", "")
        return response
    except ConnectionError:
        if not _client_gone(request):
            return _internal_error(request)
        # the client went away mid-request (its body is cut short): nothing to answer, no bug
        log.info("client disconnected during %s %s", request.method, request.path)
        return json_response(
            {"error": "client_disconnected", "message": "the client closed the connection"},
            status=CLIENT_CLOSED_REQUEST,
        )
    except Exception:
        return _internal_error(request)


def _internal_error(request: web.Request) -> web.Response:
    """A 500 with an incident id, the traceback logged under it (called inside `except`)."""
    incident = uuid.uuid4().hex
    log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
    return json_response(
        {"error": "internal_error", "message": "internal error", "incident": incident},
        status=500,
    )


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body still incomplete `LRS_BODY_TIMEOUT` after the request started fails its read with
    a 408 and the connection is closed: a slow client must not hold a handler for ever.

    A body that failed (timed out, or `Content-Encoding: gzip` on bytes that are not gzip) is
    answered and its connection closed here: aiohttp would otherwise drain the rest of the body
    after the answer, meet the failure again and log it as an unhandled exception.
    """
    if not request.can_read_body:
        return await handler(request)
    timeout = request.app[settings_key].body_timeout
    payload = request.content

    def expire() -> None:
        if not payload.is_eof():
            message = f"the request body did not arrive within {timeout:g} s"
            payload.set_exception(RequestTimeout(message))  # wakes a read waiting for it

    timer = asyncio.get_running_loop().call_later(timeout, expire) if timeout > 0 else None
    try:
        response = await handler(request)
    finally:
        if timer is not None:
            timer.cancel()
    if isinstance(payload.exception(), (RequestTimeout, RequestPayloadError)):
        await _answer_and_close(request, response)
    return response


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send `response` now and close the connection, without reading the rest of the body."""
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the client left too: nothing more to do than close
    if request.protocol is not None:
        request.protocol.force_close()


@web.middleware
async def xapi_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for browser content, preflights answered without authentication, version header."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, PUT, POST, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "86400"
    else:
        response = await handler(request)
    if not response.prepared:  # a streamed response set them before it started
        add_xapi_headers(request, response)
    return response


def add_xapi_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The CORS, version and consistent-through headers (before a streamed response starts)."""
    settings = request.app[settings_key]
    response.headers["Access-Control-Allow-Origin"] = settings.cors_origins
    response.headers["Access-Control-Expose-Headers"] = EXPOSED
    if request.path.startswith("/xapi"):
        # xAPI 1.0.3 Part 3 §3.3: the version header on every response.
        response.headers[HEADER] = request.get(version_out_key, settings.default_xapi_version)
    if request.path.rstrip("/") == "/xapi/statements":
        # Part 3 §2.1.3: on every Statement resource response. Writes are readable once
        # acknowledged, so the consistent-through point is now.
        now = request.app[statement_service_key].now_us()
        response.headers[CONSISTENT_THROUGH] = format_us(now)
