"""AGS 2.0 over HTTP: line items (§3), scores (§4) and results (§5). Parse, call, shape.

Every request carries a bearer token from /lti/token. A token is for one tool: a request on
another tool's URL is 403; the token must carry a scope the request needs (403
insufficient_scope); a missing or bad token is 401 with a `WWW-Authenticate: Bearer` challenge
(RFC 6750 §3), added here because the LRS middleware only knows HTTP Basic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from lrs.errors import (
    BadRequest,
    Forbidden,
    InsufficientScope,
    InvalidToken,
    UnsupportedMediaType,
)
from lrs.keys import settings_key
from lrs.middlewares import error_response
from lti import scopes
from lti.gradebook import line_item_iri
from lti.keys import gradebook_key, lti_settings_key, token_service_key
from lti.lineitems import line_item_json, result_json
from lti.paging import PAGE_PARAM, decode_page, encode_page, link_next, parse_limit
from lti.store.base import LineItemFilter, Tool
from lti.urls import request_base
from lti.vocabulary import LINEITEM_MEDIA, LINEITEMS_MEDIA, RESULTS_MEDIA, SCORE_MEDIA

LINE_ITEMS = "/tools/{tool}/lineitems"  # under the sub-app's /lti
LINE_ITEM = LINE_ITEMS + "/{item}"
SCORES = LINE_ITEM + "/scores"
RESULTS = LINE_ITEM + "/results"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_ags_routes(app: web.Application) -> None:
    """Add the line item, score and result routes."""
    app.router.add_get(LINE_ITEMS, bearer(get_line_items), allow_head=False)
    app.router.add_post(LINE_ITEMS, bearer(post_line_item))
    app.router.add_get(LINE_ITEM, bearer(get_line_item), allow_head=False)
    app.router.add_put(LINE_ITEM, bearer(put_line_item))
    app.router.add_delete(LINE_ITEM, bearer(delete_line_item))
    app.router.add_post(SCORES, bearer(post_score))
    app.router.add_get(RESULTS, bearer(get_results), allow_head=False)


def bearer(handler: Handler) -> Handler:
    """Answer token failures with the RFC 6750 challenge the client needs."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (InvalidToken, InsufficientScope) as error:
            response = error_response(error)
            response.headers["WWW-Authenticate"] = error.challenge("lti")
            return response

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


async def _tool(request: web.Request, needs: tuple[str, ...]) -> Tool:
    """The tool the bearer token is for, checked against the URL and the needed scopes."""
    grant = await request.app[token_service_key].verify(request.headers.get("Authorization"))
    if grant.tool.id != request.match_info["tool"]:
        raise Forbidden("this access token was issued to another tool")
    if not grant.scopes.intersection(needs):
        raise InsufficientScope(
            f"this request needs the scope {' or '.join(needs)}",
            scopes=needs,
            scope=" ".join(needs),
        )
    return grant.tool


async def _body(request: web.Request, media_type: str) -> Any:
    if request.content_type.lower() != media_type:
        raise UnsupportedMediaType(f"send {media_type}, not {request.content_type or 'nothing'}")
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


def _respond(body: Any, media_type: str, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=media_type)


def _base(request: web.Request) -> str:
    return request_base(request, request.app[settings_key], request.app[lti_settings_key])


def _item_url(request: web.Request, tool: Tool, item_id: str) -> str:
    return line_item_iri(_base(request), tool.id, item_id)


def _page_state(request: web.Request, filters: tuple[str, ...]) -> dict[str, Any]:
    """The query of a container GET: from the `page` cursor, or from the parameters."""
    lti = request.app[lti_settings_key]
    if PAGE_PARAM in request.query:
        state = decode_page(request.query[PAGE_PARAM])
        for name in (*filters, "after"):
            if state.get(name) is not None and not isinstance(state[name], str):
                raise BadRequest("the page parameter is not a cursor this platform issued")
        if not isinstance(state.get("limit"), int) or not 0 < state["limit"] <= lti.max_page_size:
            raise BadRequest("the page parameter is not a cursor this platform issued")
        return state
    state = {name: request.query.get(name) for name in filters}
    state["limit"] = parse_limit(
        request.query.get("limit"), default=lti.page_size, maximum=lti.max_page_size
    )
    return state


def _with_next(response: web.Response, url: str, state: dict[str, Any], after: str | None) -> None:
    if after is not None:
        cursor = encode_page({**state, "after": after})
        response.headers["Link"] = link_next(f"{url}?{PAGE_PARAM}={cursor}")


async def get_line_items(request: web.Request) -> web.StreamResponse:
    """GET the line items container: filters resource_link_id, resource_id, tag; limit."""
    tool = await _tool(request, scopes.READ_LINE_ITEMS)
    state = _page_state(request, ("resource_link_id", "resource_id", "tag"))
    page = await request.app[gradebook_key].line_items(
        LineItemFilter(
            tool_id=tool.id,
            resource_link_id=state.get("resource_link_id"),
            resource_id=state.get("resource_id"),
            tag=state.get("tag"),
            limit=state["limit"],
            after=state.get("after"),
        )
    )
    body = [line_item_json(item, _item_url(request, tool, item.id)) for item in page.items]
    response = _respond(body, LINEITEMS_MEDIA)
    _with_next(
        response, f"{_base(request)}/lti/tools/{tool.id}/lineitems", state, page.next_position
    )
    return response


async def post_line_item(request: web.Request) -> web.StreamResponse:
    """POST a line item: 201 with the line item and its id."""
    tool = await _tool(request, scopes.WRITE_LINE_ITEMS)
    item = await request.app[gradebook_key].add_line_item(
        tool, await _body(request, LINEITEM_MEDIA)
    )
    url = _item_url(request, tool, item.id)
    response = _respond(line_item_json(item, url), LINEITEM_MEDIA, status=201)
    response.headers["Location"] = url
    return response


async def get_line_item(request: web.Request) -> web.StreamResponse:
    """GET one line item."""
    tool = await _tool(request, scopes.READ_LINE_ITEMS)
    item = await request.app[gradebook_key].line_item(tool, request.match_info["item"])
    return _respond(line_item_json(item, _item_url(request, tool, item.id)), LINEITEM_MEDIA)


async def put_line_item(request: web.Request) -> web.StreamResponse:
    """PUT a line item: replace its properties."""
    tool = await _tool(request, scopes.WRITE_LINE_ITEMS)
    body = await _body(request, LINEITEM_MEDIA)
    item = await request.app[gradebook_key].replace_line_item(
        tool, request.match_info["item"], body
    )
    return _respond(line_item_json(item, _item_url(request, tool, item.id)), LINEITEM_MEDIA)


async def delete_line_item(request: web.Request) -> web.StreamResponse:
    """DELETE a line item: 204."""
    tool = await _tool(request, scopes.WRITE_LINE_ITEMS)
    await request.app[gradebook_key].delete_line_item(tool, request.match_info["item"])
    return web.Response(status=204)


async def post_score(request: web.Request) -> web.StreamResponse:
    """POST a score: 200 with the ids of the statements it became."""
    tool = await _tool(request, scopes.POST_SCORES)
    body = await _body(request, SCORE_MEDIA)
    ids = await request.app[gradebook_key].post_score(tool, request.match_info["item"], body)
    return _respond({"statementIds": ids}, "application/json")


async def get_results(request: web.Request) -> web.StreamResponse:
    """GET the results container: filter user_id; limit."""
    tool = await _tool(request, scopes.READ_RESULTS)
    state = _page_state(request, ("user_id",))
    item, page = await request.app[gradebook_key].results(
        tool,
        request.match_info["item"],
        user_id=state.get("user_id"),
        limit=state["limit"],
        after=state.get("after"),
    )
    item_url = _item_url(request, tool, item.id)
    body = [
        result_json(
            record,
            item,
            item_url=item_url,
            result_url=f"{item_url}/results?user_id={quote(record.user_id, safe='')}",
        )
        for record in page.items
    ]
    response = _respond(body, RESULTS_MEDIA)
    _with_next(response, f"{item_url}/results", state, page.next_position)
    return response
