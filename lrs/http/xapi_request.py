"""The xAPI view of an HTTP request: effective method, parameters, headers, body, version.

The 1.0.3 alternate request syntax (Part 3 §1.3) moves the method into `?method=`, headers
and parameters into form fields and the body into `content`. Parsing it here, once, lets every
handler read one `XAPIRequest` whichever syntax the client used. xAPI 2.0 removed the syntax,
so a 2.0 request using it is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict

from lrs.auth import Principal
from lrs.errors import BadRequest
from lrs.xapi.versions import HEADER, is_v2, negotiate

# Part 3 §1.3: form fields the LRS treats as headers.
_HEADER_FIELDS = (
    "Authorization",
    "X-Experience-API-Version",
    "Content-Type",
    "Content-Length",
    "If-Match",
    "If-None-Match",
)
_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


@dataclass
class XAPIRequest:
    """What an xAPI handler needs from a request, whichever syntax carried it."""

    method: str
    params: MultiDict[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    version: str = ""
    alternate: bool = False
    principal: Principal | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _decode_form(body: bytes) -> MultiDict[str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the form body is not UTF-8") from exc
    return MultiDict(parse_qsl(text, keep_blank_values=True))


async def parse_xapi_request(request: web.Request) -> XAPIRequest:
    """Read the request (body included) into an XAPIRequest, handling alternate syntax."""
    body = await request.read()
    if "method" not in request.query:
        return XAPIRequest(
            method=request.method,
            params=MultiDict(request.query),
            headers=request.headers,
            body=body,
        )
    return _alternate(request, body)


def _names_v2(version: str | None) -> bool:
    """True when `version` is a 2.0 version (an unsupported one is the negotiation's 400)."""
    try:
        return bool(version) and is_v2(negotiate(version))
    except BadRequest:
        return False


def check_alternate_version(request: web.Request, xreq: XAPIRequest) -> None:
    """xAPI 2.0 removed the alternate request syntax: a 400 when the request's header or its
    form names 2.0. Called after authentication (the form may carry the credentials), so an
    anonymous request is a 401 whatever version it names."""
    if xreq.alternate and (_names_v2(request.headers.get(HEADER)) or is_v2(xreq.version)):
        raise BadRequest("the alternate request syntax is not part of xAPI 2.0")


def _alternate(request: web.Request, body: bytes) -> XAPIRequest:
    if request.method != "POST":
        raise BadRequest("the alternate request syntax requires POST")
    if set(request.query) != {"method"}:
        raise BadRequest("the alternate request syntax allows only the method query parameter")
    method = request.query["method"].upper()
    if method not in _METHODS:
        raise BadRequest(f"unknown method {request.query['method']!r}")
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest(
            "the alternate request syntax needs an application/x-www-form-urlencoded body"
        )
    form = _decode_form(body)
    headers = CIMultiDict(request.headers)
    headers.popall("Content-Type", None)
    params: MultiDict[str] = MultiDict()
    content = b""
    for name, value in form.items():
        header = next((h for h in _HEADER_FIELDS if h.lower() == name.lower()), None)
        if header is not None:
            headers[header] = value
        elif name == "content":
            content = value.encode("utf-8")
        else:
            params.add(name, value)
    return XAPIRequest(
        method=method,
        params=params,
        headers=CIMultiDictProxy(headers),
        body=content,
        alternate=True,
    )
