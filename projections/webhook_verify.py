"""Receiving a marketplace webhook: check its signature and freshness. No LRS imports.

A receiver copies this module (or imports it) and calls, before trusting a request:

    event = verify_webhook(secret, body, request.headers["X-LRS-Signature"])

`body` must be the raw request bytes (not re-serialised JSON). The signature header is
`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`; several `v1=` values may be
present (they are tried in turn). A signature that does not match, or a timestamp more than
`tolerance_s` (default 300 s) from now, raises `WebhookVerificationError`: a captured request
replayed later is refused. The result is the event's JSON; de-duplicate on its `id` (also in
the `X-LRS-Event-Id` header) and order a record's events by their `version`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SIGNATURE_HEADER = "X-LRS-Signature"
EVENT_ID_HEADER = "X-LRS-Event-Id"
EVENT_TYPE_HEADER = "X-LRS-Event-Type"
DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(ValueError):
    """The request is not a fresh webhook signed with this secret."""


class StaleSignatureError(WebhookVerificationError):
    """The signature's timestamp is outside the replay window."""


class SignatureMismatchError(WebhookVerificationError):
    """No `v1=` value of the header is the HMAC of this body under this secret."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 over `"<timestamp>." + body`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp = None
    macs = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit():  # int() refuses "²"
            timestamp = int(value)
        elif key == "v1":
            macs.append(value)
    if timestamp is None or not macs:
        raise WebhookVerificationError("the signature header has no t= or no v1=")
    return timestamp, macs


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> tuple[int, str]:
    """(timestamp, matching v1 value) if `header` signs `body` with `secret` within the
    replay window; StaleSignatureError or SignatureMismatchError (or the base class for a
    header that is missing or unreadable) otherwise."""
    if not header:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")
    timestamp, macs = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise StaleSignatureError("the signature timestamp is outside the replay window")
    expected = signature(secret, timestamp, body)
    for mac in macs:
        # bytes: compare_digest refuses str values that are not ASCII (a TypeError)
        if hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
            return timestamp, mac
    raise SignatureMismatchError("the signature does not match")


def verify_webhook(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The event, if `header` signs `body` with `secret` within the replay window."""
    verify_signature(secret, body, header, tolerance_s=tolerance_s, now=now)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the body is not JSON") from exc
