"""The SCORM runtime endpoint over HTTP: open an attempt (LMS), commit (browser runtime).

    POST /scorm/v1/attempts           HTTP Basic, scope statements/write: open an attempt
                                      session; answers its commit URL (201 new, 200 resumed)
    POST /scorm/v1/commits/{token}    no Authorization (the token is the credential): a commit
                                      in any of the shapes of `scorm_adapter.endpoint`

Answers are what JavaScript SCORM runtimes take as success or failure: `{"result": true,
"errorCode": 0, ...}`, or `{"result": false, "errorCode": 101, "error": ..., "message": ...}`
with a 4xx status (101 is "General Exception" in both SCORM 1.2 and 2004), plus `element`
when a CMI element is at fault. CORS: the app's middleware adds Access-Control-Allow-Origin to
every answer and answers preflights (a beacon's `text/plain` needs none). A 401 of the commit
route carries no WWW-Authenticate header, so a browser never pops up a login dialog.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from lrs.auth import REALM
from lrs.errors import BadRequest, LRSError, PayloadTooLarge, Unauthorized
from lrs.keys import (
    authenticator_key,
    backend_key,
    document_service_key,
    settings_key,
    statement_service_key,
)
from lrs.middlewares import json_response
from scorm_adapter.endpoint import (
    CommitBody,
    parse_open_request,
    read_commit_body,
    read_commit_fields,
)
from scorm_adapter.errors import ScormDataError
from scorm_adapter.service import CommitOutcome, OpenedAttempt, ScormService
from scorm_adapter.settings import ScormSettings
from scorm_adapter.store import open_attempt_store
from scorm_adapter.tokens import TokenSigner, load_signing_key

ATTEMPTS_PATH = "/scorm/v1/attempts"
COMMIT_PATH = "/scorm/v1/commits/{token}"
GENERAL_EXCEPTION = 101  # SCORM 1.2 and 2004 error code "General Exception"

scorm_service_key = web.AppKey("scorm_service", ScormService)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Add the SCORM routes, and build the service once the backend is open."""
    redact_commit_tokens()
    app.router.add_post(ATTEMPTS_PATH, _answering(open_attempt, basic_realm=True))
    app.router.add_post(COMMIT_PATH, _answering(commit))
    app.cleanup_ctx.append(_service_ctx)


_TOKEN_IN_PATH = re.compile(r"(/scorm/v1/commits/)[^\s?#\"']+")
_LOGGERS_SEEING_PATHS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "lrs.middlewares")


class RedactCommitTokens(logging.Filter):
    """Replaces commit-URL tokens in log records by `<token>`: a token is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message, its arguments and aiohttp's request-line field; keep the record."""
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        line = getattr(record, "first_request_line", None)
        if isinstance(line, str):
            record.first_request_line = _redacted(line)
        return True


def redact_commit_tokens() -> None:
    """Install RedactCommitTokens on the loggers that log request paths (once)."""
    for name in _LOGGERS_SEEING_PATHS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCommitTokens) for f in logger.filters):
            logger.addFilter(RedactCommitTokens())


def _redacted(value: Any) -> Any:
    if isinstance(value, str) and "/scorm/v1/commits/" in value:
        return _TOKEN_IN_PATH.sub(r"\1<token>", value)
    return value


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    scorm = ScormSettings.from_env()
    key = load_signing_key(scorm.signing_key, scorm.key_path(settings.data_dir))
    backend = app[backend_key]
    app[scorm_service_key] = ScormService(
        app[statement_service_key],
        app[document_service_key],
        await open_attempt_store(backend),
        backend.credentials,
        TokenSigner(key),
        token_ttl_s=scorm.token_ttl_s,
    )
    yield


async def open_attempt(request: web.Request) -> web.StreamResponse:
    """POST /scorm/v1/attempts: the LMS opens an attempt session."""
    principal = await request.app[authenticator_key].authenticate(
        request.headers.get("Authorization")
    )
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON", element="body") from None
    opened = await request.app[scorm_service_key].open_attempt(parse_open_request(body), principal)
    return json_response(_opened_json(request, opened), status=200 if opened.resumed else 201)


async def commit(request: web.Request) -> web.StreamResponse:
    """POST /scorm/v1/commits/{token}: a runtime commits CMI data."""
    token = request.match_info["token"]
    content_type = request.headers.get("Content-Type", "")
    body: CommitBody
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        form = await request.post()
        fields = [(k, v) for k, v in form.items() if isinstance(v, str)]
        body = read_commit_fields(fields, request.query)
    else:
        body = read_commit_body(await request.read(), content_type, request.query)
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
        "commitUrl": base.rstrip("/") + COMMIT_PATH.format(token=opened.token),
        "expiresAt": opened.expires,
        "resumed": opened.resumed,
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


def _answering(handler: Handler, *, basic_realm: bool = False) -> Handler:
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
