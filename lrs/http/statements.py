"""The Statement resource, /xapi/statements (1.0.3 Part 3 §2.1): parse, call, shape."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from lrs.auth import STATEMENTS_READ, STATEMENTS_WRITE, VOID_OTHERS, read_mine_only, require
from lrs.errors import BadRequest
from lrs.http.multipart import (
    AttachmentPart,
    ReceivedPart,
    attachment_part,
    closing,
    json_part,
    multipart_response,
    parse_multipart,
)
from lrs.http.multipart import content_type as multipart_content_type
from lrs.http.resource import xapi_resource
from lrs.http.xapi_request import XAPIRequest
from lrs.keys import query_token_key, settings_key, statement_service_key
from lrs.middlewares import add_xapi_headers
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
        return await _statement_body(
            request,
            service,
            view.raw,
            [view.raw],
            parsed.attachments,
            last_modified=http_date(view.stored_us),
        )
    result = await service.query_statements(parsed, authority_filter=mine, pick_language=picker)
    more = f"{PATH}?{MORE}={encode_query(result.more, key)}" if result.more else ""
    body = b'{"statements":[' + b",".join(result.statements) + b'],"more":' + orjson.dumps(more)
    return await _statement_body(
        request, service, body + b"}", result.statements, parsed.attachments
    )


async def _statement_body(
    request: web.Request,
    service: StatementService,
    body: bytes,
    statements: list[bytes],
    attachments: bool,
    last_modified: str | None = None,
) -> web.StreamResponse:
    # Part 3 §2.1.3: attachments=true means a multipart response with every attachment.
    if not attachments:
        response: web.StreamResponse = web.Response(body=body, content_type="application/json")
    elif request.method == "HEAD" or not (hashes := service.attachment_hashes(statements)):
        stored = await service.attachments_for(statements)
        parts = [AttachmentPart(a.content_type, a.sha2, a.content) for a in stored]
        response = multipart_response(body, parts)
    else:
        return await _stream_attachments(request, service, body, hashes, last_modified)
    if last_modified is not None:
        response.headers["Last-Modified"] = last_modified
    return response


async def _stream_attachments(
    request: web.Request,
    service: StatementService,
    body: bytes,
    hashes: list[str],
    last_modified: str | None,
) -> web.StreamResponse:
    """The multipart response written part by part: one attachment in memory at a time."""
    boundary = uuid.uuid4().hex
    response = web.StreamResponse()
    response.headers["Content-Type"] = multipart_content_type(boundary)
    if last_modified is not None:
        response.headers["Last-Modified"] = last_modified
    add_xapi_headers(request, response)  # the middleware cannot, once it has started
    await response.prepare(request)
    await response.write(json_part(boundary, body))
    for sha2 in hashes:
        found = await service.attachment(sha2)
        if found is not None:
            part = AttachmentPart(found.content_type, found.sha2, found.content)
            for chunk in attachment_part(boundary, part):
                await response.write(chunk)
    await response.write(closing(boundary))
    await response.write_eof()
    return response


statements_resource = xapi_resource(
    {"GET": get_statements, "PUT": put_statement, "POST": post_statements}
)
