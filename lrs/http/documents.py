"""The document resources (1.0.3 Part 3 §2.3 State, §2.6 Agent Profile, §2.7 Activity Profile).

/xapi/activities/state, /xapi/activities/profile and /xapi/agents/profile: parse, call the
document service, shape the response. HEAD is answered as GET by `xapi_resource`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from lrs import auth
from lrs.http.resource import xapi_resource
from lrs.http.xapi_request import XAPIRequest
from lrs.keys import document_service_key
from lrs.model.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE, Document
from lrs.services.documents import DocumentService
from lrs.xapi.documents import (
    DocumentRequest,
    Preconditions,
    content_etag,
    parse_document_params,
    parse_preconditions,
    quote_etag,
)
from lrs.xapi.timestamps import http_date

STATE_PATH = "/xapi/activities/state"
ACTIVITY_PROFILE_PATH = "/xapi/activities/profile"
AGENT_PROFILE_PATH = "/xapi/agents/profile"


def _service(request: web.Request) -> DocumentService:
    return request.app[document_service_key]


def _parse(kind: str, xreq: XAPIRequest) -> DocumentRequest:
    return parse_document_params(kind, xreq.method, xreq.params.items())


def _document_response(document: Document) -> web.Response:
    response = web.Response(body=document.content, headers={"Content-Type": document.content_type})
    # 1.0.3 Part 3 §3.1: ETag on GET, quoted; §2.2: Last-Modified on GET.
    response.headers["ETag"] = quote_etag(document.etag)
    response.headers["Last-Modified"] = http_date(document.updated_us)
    return response


def _written(document: Document) -> web.Response:
    response = web.Response(status=204)
    response.headers["ETag"] = quote_etag(document.etag)
    return response


def document_resource(
    kind: str, read_scopes: tuple[str, ...], write_scopes: tuple[str, ...]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one document resource."""

    async def get(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
        """GET/HEAD: one document, or (without its id) the ids in scope, `since` applied."""
        assert xreq.principal is not None
        auth.require(xreq.principal, read_scopes)
        parsed = _parse(kind, xreq)
        service = _service(request)
        if parsed.doc_id is not None:
            return _document_response(await service.get_document(parsed.key))
        found = await service.list_ids(parsed.scope, parsed.since_us)
        body = orjson.dumps(list(found.ids))
        response = web.Response(body=body, content_type="application/json")
        response.headers["ETag"] = quote_etag(content_etag(body))
        if found.last_updated_us is not None:
            # Part 3 §2.2: the newest change among the documents returned.
            response.headers["Last-Modified"] = http_date(found.last_updated_us)
        return response

    async def write(request: web.Request, xreq: XAPIRequest, *, merge: bool) -> web.StreamResponse:
        assert xreq.principal is not None
        auth.require(xreq.principal, write_scopes)
        parsed = _parse(kind, xreq)
        service = _service(request)
        store = service.post_document if merge else service.put_document
        document = await store(
            parsed.key,
            xreq.body,
            xreq.headers.get("Content-Type", ""),
            pre=_preconditions(xreq),
            version=xreq.version,
        )
        return _written(document)

    async def put(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
        """PUT: store the body as the document (If-Match / If-None-Match per §3.1)."""
        return await write(request, xreq, merge=False)

    async def post(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
        """POST: merge a JSON object into the document, or store it when absent (§2.2)."""
        return await write(request, xreq, merge=True)

    async def delete(request: web.Request, xreq: XAPIRequest) -> web.StreamResponse:
        """DELETE: the document, or (State without stateId) every document in scope."""
        assert xreq.principal is not None
        auth.require(xreq.principal, write_scopes)
        parsed = _parse(kind, xreq)
        service = _service(request)
        if parsed.doc_id is None:
            await service.delete_documents(parsed.scope, pre=_preconditions(xreq))
        else:
            await service.delete_document(
                parsed.key, pre=_preconditions(xreq), version=xreq.version
            )
        return web.Response(status=204)

    return xapi_resource({"GET": get, "PUT": put, "POST": post, "DELETE": delete})


def _preconditions(xreq: XAPIRequest) -> Preconditions:
    return parse_preconditions(xreq.headers.get("If-Match"), xreq.headers.get("If-None-Match"))


state_resource = document_resource(STATE, auth.STATE_READ, auth.STATE)
activity_profile_resource = document_resource(ACTIVITY_PROFILE, auth.PROFILE_READ, auth.PROFILE)
agent_profile_resource = document_resource(AGENT_PROFILE, auth.PROFILE_READ, auth.PROFILE)
