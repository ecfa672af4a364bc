"""LTI 1.1 Basic Outcomes over HTTP (POX), and the sourcedId minting endpoint.

Every answer from /lti/1.1/outcomes is an imsx_POXEnvelopeResponse (application/xml), whatever
went wrong: HTTP 200 with codeMajor success, failure (a refused request: bad sourcedId, score
outside 0.0-1.0) or unsupported (an operation other than replace/read/deleteResult); 401 when
the OAuth signature, body hash, timestamp or nonce fails; 400 for a body that is not an outcome
request; 415 for a media type other than application/xml or text/xml; 5xx when the store is
unavailable. The request's message identifier is echoed whenever it could be read.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from lrs.auth import STATEMENTS_WRITE, require
from lrs.errors import BadRequest, LRSError, NotFound, Unauthorized, UnsupportedMediaType
from lrs.keys import authenticator_key, settings_key
from lrs.middlewares import json_response
from lti import pox
from lti.http import PREFIX
from lti.keys import (
    lti_settings_key,
    lti_stores_key,
    outcome_service_key,
    sourced_ids_key,
    vault_key,
)
from lti.oauth1 import verify_request
from lti.outcomes import OutcomeRefused
from lti.sourcedids import ResultRef
from lti.store.base import Consumer
from lti.urls import request_base, request_url

log = logging.getLogger(__name__)

OUTCOMES = "/1.1/outcomes"  # under the sub-app's /lti
SOURCED_IDS = "/1.1/sourcedids"
XML_TYPES = ("application/xml", "text/xml")


def add_outcome_routes(app: web.Application) -> None:
    """Add the Basic Outcomes and sourcedId routes."""
    app.router.add_post(OUTCOMES, post_outcome)
    app.router.add_post(SOURCED_IDS, post_sourced_id)


def _pox(status: int, **fields: str | None) -> web.Response:
    return web.Response(
        body=pox.response(**fields),  # type: ignore[arg-type]
        status=status,
        content_type="application/xml",
        charset="utf-8",
    )


def _failure(status: int, message: str, request: pox.PoxRequest | None) -> web.Response:
    return _pox(
        status,
        code_major="failure",
        description=message,
        message_ref=request.message_id if request else "",
        operation=request.operation if request else "",
    )


async def post_outcome(request: web.Request) -> web.StreamResponse:
    """POST an outcome request: see the module docstring for every answer."""
    parsed: pox.PoxRequest | None = None
    try:
        if request.content_type.lower() not in XML_TYPES:
            raise UnsupportedMediaType("outcome requests are sent as application/xml")
        body = await request.read()
        parse_error: pox.PoxError | None = None
        try:
            parsed = pox.parse_request(body)
        except pox.PoxError as error:
            parse_error = error
        consumer = await verify_request(
            url=request_url(request, request.app[settings_key], request.app[lti_settings_key]),
            method=request.method,
            headers=request.headers,
            body=body,
            store=request.app[lti_stores_key].registrations,
            replays=request.app[lti_stores_key].replays,
            vault=request.app[vault_key],
        )
        if parse_error is not None or parsed is None:
            return _failure(400, parse_error.message if parse_error else "no request", None)
        return await _dispatch(request, consumer, parsed)
    except Unauthorized as error:
        response = _failure(401, error.message, parsed)
        response.headers["WWW-Authenticate"] = 'OAuth realm="lti"'
        return response
    except (OutcomeRefused, BadRequest) as error:
        return _failure(200, error.message, parsed)
    except LRSError as error:
        return _failure(error.status, error.message, parsed)


async def _dispatch(
    request: web.Request, consumer: Consumer, parsed: pox.PoxRequest
) -> web.Response:
    service = request.app[outcome_service_key]
    ok = {"code_major": "success", "message_ref": parsed.message_id, "operation": parsed.operation}
    if parsed.operation == "replaceResult":
        score = await service.replace(
            consumer, parsed.sourced_id, parsed.score_text, parsed.message_id
        )
        return _pox(200, description=f"the score is now {pox.format_score(score)}", body="", **ok)
    if parsed.operation == "readResult":
        current = await service.read(consumer, parsed.sourced_id)
        body = pox.read_result_body(current)
        return _pox(200, description="the current result", body=body, **ok)
    if parsed.operation == "deleteResult":
        await service.delete(consumer, parsed.sourced_id)
        return _pox(200, description="the result is deleted", body="", **ok)
    return _pox(
        200,
        code_major="unsupported",
        description=f"the operation {parsed.operation} is not supported",
        message_ref=parsed.message_id,
        operation=parsed.operation,
    )


async def post_sourced_id(request: web.Request) -> web.StreamResponse:
    """POST {consumer_key, resource_link_id, user_id}: a sourcedId for a launch (201)."""
    principal = await request.app[authenticator_key].authenticate(
        request.headers.get("Authorization")
    )
    require(principal, STATEMENTS_WRITE)
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object with consumer_key, resource_link_id and user_id")
    ref = ResultRef(
        consumer_key=body.get("consumer_key"),  # type: ignore[arg-type]
        resource_link_id=body.get("resource_link_id"),  # type: ignore[arg-type]
        user_id=body.get("user_id"),  # type: ignore[arg-type]
    )
    sourced_id = request.app[sourced_ids_key].mint(ref)
    consumer = await request.app[lti_stores_key].registrations.get_consumer(ref.consumer_key)
    if consumer is None or consumer.disabled_at:
        raise NotFound(f"no enabled consumer key {ref.consumer_key}")
    base = request_base(request, request.app[settings_key], request.app[lti_settings_key])
    return json_response(
        {"lis_result_sourcedid": sourced_id, "lis_outcome_service_url": base + PREFIX + OUTCOMES},
        status=201,
    )
