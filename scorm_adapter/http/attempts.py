"""The runtime endpoint's two handlers, answered in the shape SCORM runtimes understand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from lrs.auth import REALM
from lrs.errors import BadRequest, LRSError, PayloadTooLarge, Unauthorized
from lrs.keys import authenticator_key, settings_key
from lrs.middlewares import json_response
from scorm_adapter.errors import ScormDataError
from scorm_adapter.http import PREFIX
from scorm_adapter.http.bodies import read_form_fields, read_raw_body
from scorm_adapter.keys import scorm_service_key
from scorm_adapter.request_bodies import (
    CommitBody,
    parse_open_request,
    read_commit_body,
    read_commit_fields,
)
from scorm_adapter.service import CommitOutcome, OpenedAttempt
from scorm_adapter.starting_data import nest

ATTEMPTS_PATH = "/v1/attempts"  # under the sub-app's PREFIX
COMMIT_PATH = "/v1/commits/{token}"
GENERAL_EXCEPTION = 101  # SCORM 1.2 and 2004 error code "General Exception"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def open_attempt(request: web.Request) -> web.StreamResponse:
    """POST /scorm/v1/attempts: the LMS opens an attempt session."""
    principal = await request.app[authenticator_key].authenticate(
        request.headers.get("Authorization")
    )
    try:
        body = orjson.loads(await read_raw_body(request))
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON", element="body") from None
    opened = await request.app[scorm_service_key].open_attempt(parse_open_request(body), principal)
    return json_response(_opened_json(request, opened), status=200 if opened.resumed else 201)


async def commit(request: web.Request) -> web.StreamResponse:
    """POST /scorm/v1/commits/{token}: a runtime commits CMI data."""
    token = request.match_info["token"]
    # the URL token is the credential: checked before the body is read (a slow or large body
    # from a client without a valid URL must not hold the server)
    request.app[scorm_service_key].check_token(token)
    content_type = request.headers.get("Content-Type", "")
    body: CommitBody
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        body = read_commit_fields(await read_form_fields(request), request.query)
    else:
        body = read_commit_body(await read_raw_body(request), content_type, request.query)
    outcome = await request.app[scorm_service_key].commit(token, body)
    return json_response(_outcome_json(outcome))


def _opened_json(request: web.Request, opened: OpenedAttempt) -> dict[str, Any]:
    base = request.app[settings_key].public_base_url or str(request.url.origin())
    body: dict[str, Any] = {
        "result": True,
        "errorCode": 0,
        "attemptId": opened.attempt_id,
        "attempt": opened.attempt_iri,
        "session": opened.session,
        "commitUrl": base.rstrip("/") + PREFIX + COMMIT_PATH.format(token=opened.token),
        "expiresAt": opened.expires,
        "resumed": opened.resumed,
        "startingData": nest(opened.starting),  # for the runtime's loadFromJSON, as is
    }
    if opened.left_out:
        body["leftOut"] = list(opened.left_out)
    return body


def _outcome_json(outcome: CommitOutcome) -> dict[str, Any]:
    body: dict[str, Any] = {
        "result": True,
        "errorCode": 0,
        "status": outcome.status.value,
        "statementIds": list(outcome.statement_ids),
        "seq": outcome.seq,
        "finished": outcome.finished,
    }
    if outcome.left_out:
        body["leftOut"] = list(outcome.left_out)
    return body


def answering(handler: Handler, *, basic_realm: bool = False) -> Handler:
    """The handler, with every failure answered in the runtimes' `result: false` shape."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ScormDataError as exc:
            return _failure(BadRequest(str(exc), element=exc.element), basic_realm)
        except web.HTTPRequestEntityTooLarge:
            return _failure(PayloadTooLarge("the commit is too large"), basic_realm)
        except LRSError as error:
            return _failure(error, basic_realm)

    return handle


def _failure(error: LRSError, basic_realm: bool) -> web.Response:
    body = {"result": False, "errorCode": GENERAL_EXCEPTION, **error.to_json()}
    response = json_response(body, status=error.status)
    if basic_realm and isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = REALM
    return response
