"""Errors of the marketplace API, as subclasses of the LRS error tree (`lrs.errors`).

    LRSError
    ├── BadRequest (400)
    │   ├── OAuthError (400, or 401 for invalid_client; RFC 6749 §5.2 codes)
    │   │   └── AuthorizeError (400; an authorization request's error, RFC 6749 §4.1.2.1:
    │   │       sent back to the app's redirect URI, unless the client or URI is bad)
    │   ├── InvalidCursor (400)
    │   └── TooManyTerminations (400; a full identity import beyond the allowed share)
    ├── Unauthorized (401)
    │   └── InvalidToken (401; the shared `lrs.errors` class)
    ├── Forbidden (403)
    │   └── InsufficientScope (403; the shared `lrs.errors` class, `required` in its details)
    ├── NotFound (404)
    │   └── MemberNotFound (404)
    ├── Conflict (409)
    │   └── NotAConflict (409; resolving an identity nobody else claims, or a non-claimant)
    ├── UnprocessableEntity (422)
    │   └── IdempotencyKeyReused (422)
    └── TooManyRequests (429)
        └── RateLimited (429, carries `retry_after` seconds for the Retry-After header)

The marketplace handlers turn these into the API's error envelope in one place
(`projections.http`); the OAuth endpoints answer RFC 6749 bodies instead.
"""

from __future__ import annotations

from typing import Any

from lrs.errors import BadRequest, Conflict, LRSError, NotFound, TooManyRequests


class OAuthError(BadRequest):
    """An OAuth 2.0 token or revocation endpoint error (RFC 6749 §5.2)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = 401 if code == "invalid_client" else 400

    def to_oauth(self) -> dict[str, Any]:
        """The RFC 6749 error body."""
        return {"error": self.code, "error_description": self.message}


class AuthorizeError(OAuthError):
    """An authorization request's error. `redirectable`: whether it may be sent to the
    redirect URI (False when the client id or the redirect URI is unknown: RFC 6749 §4.1.2.1
    says never to redirect then, or the endpoint is an open redirector)."""

    def __init__(self, code: str, message: str, *, redirectable: bool) -> None:
        super().__init__(code, message)
        self.redirectable = redirectable


class InvalidCursor(BadRequest):
    code = "invalid_cursor"


class MemberNotFound(NotFound):
    code = "member_not_found"


class TooManyTerminations(BadRequest):
    code = "too_many_terminations"


class NotAConflict(Conflict):
    code = "not_a_conflict"


class UnprocessableEntity(LRSError):
    status = 422
    code = "unprocessable_entity"


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency_key_reused"


class RateLimited(TooManyRequests):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limit exceeded; retry later", retry_after=retry_after)
        self.retry_after = retry_after
