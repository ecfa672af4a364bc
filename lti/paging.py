"""Page cursors for the `Link: <...>; rel="next"` URLs of the line items and results containers
(AGS 2.0 §3.2.5 and §5.2: paging with the Link header).

Some tool libraries lower-case the whole Link header before following it, so every part of a
next URL this platform issues must survive a change of case: the path holds only lower-case ids,
and the rest of the query (filters, limit, position) travels as one `page` parameter in hex,
which decodes the same in either case.
"""

from __future__ import annotations

import binascii
from typing import Any

import orjson

from lrs.errors import BadRequest
from lrs.params import ascii_int

PAGE_PARAM = "page"


def encode_page(state: dict[str, Any]) -> str:
    """The cursor for a page: the query state as lower-case hex."""
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).hex()


def decode_page(cursor: str) -> dict[str, Any]:
    """The query state of a cursor (any case); BadRequest when it is not one we issued."""
    try:
        state = orjson.loads(bytes.fromhex(cursor))
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest("the page parameter is not a cursor this platform issued") from exc
    if not isinstance(state, dict):
        raise BadRequest("the page parameter is not a cursor this platform issued")
    return state


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """The page size from a `limit` parameter: a positive integer, at most `maximum`."""
    if raw is None or raw == "":
        return default
    limit = ascii_int(raw) or 0  # ASCII digits only: int() takes "٣", " 5", "1_0"
    if limit < 1:
        raise BadRequest(f"limit must be a positive integer, got {raw!r}")
    return min(limit, maximum)


def link_next(url: str) -> str:
    """The Link header value pointing at the next page."""
    return f'<{url}>; rel="next"'
