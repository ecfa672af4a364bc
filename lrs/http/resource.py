"""One aiohttp handler per xAPI resource, dispatching on the effective method.

It authenticates (before reading the body, except for the alternate syntax, whose credentials
are in the body), parses the request once (alternate syntax included), negotiates the
version, and calls the method's handler with the XAPIRequest. HEAD is answered as GET; aiohttp
leaves the body out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from lrs.auth import Principal
from lrs.errors import MethodNotAllowed
from lrs.http.xapi_request import XAPIRequest, parse_xapi_request
from lrs.keys import authenticator_key, version_out_key
from lrs.xapi.versions import HEADER, V1, negotiate

MethodHandler = Callable[[web.Request, XAPIRequest], Awaitable[web.StreamResponse]]


def xapi_resource(
    handlers: Mapping[str, MethodHandler], *, authenticate: bool = True, versioned: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving `handlers` (method name → handler) for one resource."""
    allowed = set(handlers) | ({"HEAD"} if "GET" in handlers else set())

    async def handle(request: web.Request) -> web.StreamResponse:
        principal = None
        if authenticate and "method" not in request.query:
            # Basic credentials are in the headers: check them before reading a body, so an
            # unauthenticated client cannot hold the server with one (the alternate syntax's
            # Authorization is a form field of the body, so that path reads the body first)
            principal = await _authenticate(request, request.headers)
        xreq = await parse_xapi_request(request)
        if xreq.alternate:
            request[version_out_key] = V1
        if authenticate:
            xreq.principal = principal or await _authenticate(request, xreq.headers)
        if versioned:
            xreq.version = negotiate(xreq.headers.get(HEADER))
            request[version_out_key] = xreq.version
        method = "GET" if xreq.method == "HEAD" else xreq.method
        if xreq.method not in allowed:
            raise MethodNotAllowed(f"{xreq.method} is not allowed here", allowed=sorted(allowed))
        return await handlers[method](request, xreq)

    return handle


async def _authenticate(request: web.Request, headers: Mapping[str, str]) -> Principal:
    return await request.app[authenticator_key].authenticate(headers.get("Authorization"))
