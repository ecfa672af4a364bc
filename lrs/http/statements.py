"""The Statement resource, /xapi/statements (1.0.3 Part 3 §2.1): parse, call, shape."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from aiohttp import web

from lrs.auth import STATEMENTS_READ, STATEMENTS_WRITE, VOID_OTHERS, read_mine_only, require
from lrs.errors import BadRequest
from lrs.http.multipart import (
    AttachmentPart,
    ReceivedPart,
    multipart_response,
    parse_multipart,
)
from lrs.http.resource import xapi_resource
from lrs.http.xapi_request import XAPIRequest
from lrs.keys import query_token_key, settings_key, statement_service_key
from lrs.services.statement_prep import parse_json
from lrs.services.statements import StatementService
from lrs.xapi.formats import language_picker
from lrs.xapi.query import MORE, SingleStatementRequest, parse_statement_params
from lrs.xapi.query_token import decode_query, encode_query
from lrs.xapi.timestamps import http_date

PATH = "/xapi/statements"


def _service(request: web.Request) -> StatementService:
    return request.app[statement_service_key]


def _statement_payload(
    request: web.Request, xreq: XAPIRequest
) -> tuple[Any, list[ReceivedPart] | None]:
    """The statement JSON and, for multipart/mixed, the attachment parts (Part 3 §1.5)."""
    if xreq.content_type == "multipart/mixed":
        max_parts = request.app[settings_key].max_attachments + 1  # and the JSON part
        content_type = xreq.headers.get("Content-Type", "")
        json_bytes, parts = parse_multipart(xreq.body, content_type, max_parts)
        return _json(json_bytes), parts
    if xreq.content_type in ("application/json", ""):
        return _json(xreq.body), None
    raise BadRequest(
        f"statements are sent as application/json or multipart/mixed, not {xreq.content_type}"
    )


_json = parse_json


async def post_statements(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """POST: store one statement or a batch; 200 with their ids."""
    assert xreq.principal is not None
    require(xreq.principal, STATEMENTS_WRITE)
    service = _service(request)
    if xreq.content_type in ("application/json", ""):
        # parsed by the service, in its process pool when the body is large
        written = await service.store_statements_json(
            xreq.body,
            authority=xreq.principal.authority,
            version=xreq.version,
            may_define=xreq.principal.has_any("define", "all"),
            may_void_others=xreq.principal.has_any(*VOID_OTHERS),
        )
        return web.Response(body=orjson.dumps(written.ids), content_type="application/json")
    body, parts = _statement_payload(request, xreq)
    written = await service.store_statements(
        body,
        authority=xreq.principal.authority,
        version=xreq.version,
        parts=parts,
        may_define=xreq.principal.has_any("define", "all"),
        may_void_others=xreq.principal.has_any(*VOID_OTHERS),
    )
    response = web.Response(body=orjson.dumps(written.ids), content_type="application/json")
    return response


async def put_statement(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """PUT: store the statement named by statementId; 204."""
    assert xreq.principal is not None
    require(xreq.principal, STATEMENTS_WRITE)
    statement_id = xreq.params.get("statementId")
    if not statement_id:
        raise BadRequest("PUT /statements requires the statementId parameter")
    if set(xreq.params) != {"statementId"}:
        raise BadRequest("PUT /statements takes only the statementId parameter")
    service = _service(request)
    body, parts = _statement_payload(request, xreq)
    await service.put_statement(
        statement_id,
        body,
        authority=xreq.principal.authority,
        version=xreq.version,
        parts=parts,
        may_define=xreq.principal.has_any("define", "all"),
        may_void_others=xreq.principal.has_any(*VOID_OTHERS),
    )
    return web.Response(status=204)


async def get_statements(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
    """GET: one statement by id, or a StatementResult page with a `more` link."""
    assert xreq.principal is not None
    require(xreq.principal, STATEMENTS_READ)
    service = _service(request)
    key = request.app[query_token_key]
    parsed = parse_statement_params(xreq.params, partial(decode_query, key=key))
    mine = read_mine_only(xreq.principal)
    picker = language_picker(xreq.headers.get("Accept-Language"))
    if isinstance(parsed, SingleStatementRequest):
        view = await service.get_statement(parsed, authority_filter=mine, pick_language=picker)
        response = await _statement_body(service, view.raw, [view.raw], parsed.attachments)
        response.headers["Last-Modified"] = http_date(view.stored_us)
        return response
    result = await service.query_statements(parsed, authority_filter=mine, pick_language=picker)
    more = f"{PATH}?{MORE}={encode_query(result.more, key)}" if result.more else ""
    body = b'{"statements":[' + b",".join(result.statements) + b'],"more":' + orjson.dumps(more)
    return await _statement_body(service, body + b"}", result.statements, parsed.attachments)


async def _statement_body(
    service: StatementService, body: bytes, statements: list[bytes], attachments: bool
) -> web.Response:
    # Part 3 §2.1.3: attachments=true means a multipart response with every attachment.
    if not attachments:
        return web.Response(body=body, content_type="application/json")
    stored = await service.attachments_for(statements)
    parts = [AttachmentPart(a.content_type, a.sha2, a.content) for a in stored]
    return multipart_response(body, parts)


statements_resource = xapi_resource(
    {"GET": get_statements, "PUT": put_statement, "POST": post_statements}
)
