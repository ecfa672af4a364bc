"""The `more` token: a StatementQuery signed with HMAC-SHA256, checked field by field on return.

Why signed: the token carries the whole query back from the client, and the stores build
their filters from it. Unsigned, a client could hand in any value for any field (on MongoDB a
`{"$regex": ...}` where a string belongs: operator injection; on SQLite an odd type is a 500).
The key lives outside the database (a key file in the data directory, or `LRS_QUERY_TOKEN_KEY`
shared by every process of a deployment), so tokens survive restarts and work on any process.
Why also checked: defence in depth; a token signed by an older release with another shape is a
400 too, never a 500.

Form: base64url(JSON) "." base64url(HMAC-SHA256(key, "xapi-more-v1." + JSON)).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import asdict, fields
from typing import Any

import orjson

from lrs.errors import BadRequest
from lrs.xapi.query import FORMATS, StatementQuery

_CONTEXT = b"xapi-more-v1."
_MAX_TOKEN = 64 * 1024
_MAX_TEXT = 64 * 1024
_MAX_INT = 2**63 - 1
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_POSITION = re.compile(r"[0-9]{1,20}:[0-9A-Za-z-]{1,64}", re.ASCII)
_TEXT_FIELDS = ("agent", "verb", "activity")
_BOOL_FIELDS = ("related_activities", "related_agents", "attachments", "ascending")
_TIME_FIELDS = ("since_us", "until_us")
_NAMES = frozenset(f.name for f in fields(StatementQuery))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _CONTEXT + payload, hashlib.sha256).digest()


def encode_query(query: StatementQuery, key: bytes) -> str:
    """The signed, URL-safe token for the `more` link."""
    payload = orjson.dumps({k: v for k, v in asdict(query).items() if v not in (None, False, 0)})
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def decode_query(token: str, key: bytes) -> StatementQuery:
    """The query a `more` token carries; a forged, tampered or garbled token is a 400."""
    if len(token) > _MAX_TOKEN or not token.isascii():
        raise _refused()
    body, dot, signature = token.partition(".")
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except (ValueError, binascii.Error):
        raise _refused() from None
    if not dot or not hmac.compare_digest(mac, _mac(key, payload)):
        raise _refused()
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _refused() from None
    return StatementQuery(**checked_fields(data))


def checked_fields(data: Any) -> dict[str, Any]:
    """The token's fields when each has its type and range; otherwise a 400."""
    if not isinstance(data, dict) or not set(data) <= _NAMES:
        raise _refused()
    ok = all(_text(data.get(name)) for name in _TEXT_FIELDS)
    ok = ok and all(type(data.get(name, False)) is bool for name in _BOOL_FIELDS)
    ok = ok and all(_time(data.get(name)) for name in _TIME_FIELDS)
    limit = data.get("limit", 0)
    ok = ok and type(limit) is int and 0 <= limit <= _MAX_INT
    ok = ok and data.get("format", "exact") in FORMATS
    ok = ok and _matches(_UUID, data.get("registration"))
    ok = ok and _matches(_POSITION, data.get("after"))
    if not ok:
        raise _refused()
    return data


def _text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= _MAX_TEXT)


def _time(value: Any) -> bool:
    return value is None or (type(value) is int and -_MAX_INT <= value <= _MAX_INT)


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return value is None or (isinstance(value, str) and pattern.fullmatch(value) is not None)


def _refused() -> BadRequest:
    return BadRequest("the more token is not one this LRS issued", parameter="more")
