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
from lrs.errors import BadRequest, MethodNotAllowed
from lrs.http.xapi_request import XAPIRequest, check_alternate_version, parse_xapi_request
from lrs.keys import authenticator_key, version_out_key
from lrs.xapi.versions import HEADER, V1, negotiate

MethodHandler = Callable[[web.Request, XAPIRequest], Awaitable[web.StreamResponse]]


def xapi_resource(
    handlers: Mapping[str, MethodHandler], *, authenticate: bool = True, versioned: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving `handlers` (method name → handler) for one resource."""
    allowed = set(handlers) | ({"HEAD"} if "GET" in handlers else set())

    async def handle(request: web.Request) -> web.StreamResponse:
        alternate = "method" in request.query
        # RFC 9110 §15.5.5: a method the resource does not have is a 405 whatever the request's
        # credentials, version header or alternate syntax (as aiohttp's router answers it)
        _check_method(request.method, allowed)
        principal = None
        if authenticate and not alternate:
            # Basic credentials are in the headers: check them before reading a body, so an
            # unauthenticated client cannot hold the server with one (the alternate syntax's
            # Authorization is a form field of the body, so that path reads the body first)
            principal = await _authenticate(request, request.headers)
        try:
            xreq = await parse_xapi_request(request)
        except BadRequest:
            if authenticate and alternate:
                # the form that could carry credentials is malformed: the header's are the
                # only ones, and an anonymous request is a 401 before it is a 400
                await _authenticate(request, request.headers)
            raise
        if xreq.alternate:
            request[version_out_key] = V1
        if authenticate:
            xreq.principal = principal or await _authenticate(request, xreq.headers)
        if versioned:
            xreq.version = negotiate(xreq.headers.get(HEADER))
            request[version_out_key] = xreq.version
            check_alternate_version(request, xreq)
        _check_method(xreq.method, allowed)
        method = "GET" if xreq.method == "HEAD" else xreq.method
        return await handlers[method](request, xreq)

    return handle


def _check_method(method: str, allowed: set[str]) -> None:
    if method not in allowed:
        raise MethodNotAllowed(f"{method} is not allowed here", allowed=sorted(allowed))


async def _authenticate(request: web.Request, headers: Mapping[str, str]) -> Principal:
    return await request.app[authenticator_key].authenticate(headers.get("Authorization"))
