"""Reading a commit's raw body: aiohttp's body and form parsing errors become one 400, here.

A commit URL is reachable without credentials (a beacon carries none), so whatever bytes a
client sends must end in a 4xx, never a 500. aiohttp reports a broken body in several ways:

    ValueError                 multipart/form-data without a boundary ("boundary missed"),
                               a form field that is not valid in its charset
    HttpProcessingError        a multipart part header with a control character
                               (InvalidHeader), a bad chunked or compressed body
    RequestPayloadError        a body that ends early or does not decompress

All of them mean "this is not a body we can read": a ScormDataError on `body`.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from scorm_adapter.errors import ScormDataError

_BROKEN = (ValueError, HttpProcessingError, RequestPayloadError)


async def read_form_fields(request: web.Request) -> list[tuple[str, str]]:
    """The text fields of a multipart/form-data commit (file parts are ignored)."""
    try:
        form = await request.post()
    except _BROKEN:
        raise ScormDataError("body", "not a readable multipart/form-data body") from None
    return [(name, value) for name, value in form.items() if isinstance(value, str)]


async def read_raw_body(request: web.Request) -> bytes:
    """The commit's bytes, decompressed as its Content-Encoding says."""
    try:
        return await request.read()
    except _BROKEN:
        raise ScormDataError("body", "not a readable body") from None
