"""Small form bodies read before the client is authenticated, bounded in size.

The OAuth token endpoints (LTI 1.3, the marketplace) authenticate clients from form fields
(RFC 6749 §2.3.1, RFC 7523), so they must read the form before they know who is asking. Such a
form is a few hundred bytes (a client assertion a few KB): reading at most `FORM_LIMIT_BYTES`
keeps an anonymous client from making the server hold the full request-size limit.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

FORM_LIMIT_BYTES = 64 * 1024


async def read_small_form(
    request: web.Request, limit: int = FORM_LIMIT_BYTES
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form, or a 413 when its body is larger than `limit` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    return await request.clone(client_max_size=limit).post()
