"""The LRS error tree: every error a client can see, each carrying its HTTP status.

    LRSError (500)
    ├── BadRequest (400)
    │   └── ValidationError (400, names the offending path)
    ├── Unauthorized (401)
    │   └── InvalidToken (401; RFC 6750 §3.1, a bearer token malformed, expired, revoked...)
    │       └── TokenRequired (401; no bearer token: the challenge names no error)
    ├── Forbidden (403)
    │   └── InsufficientScope (403; RFC 6750 §3.1, carries the scopes that would do)
    ├── NotFound (404)
    ├── MethodNotAllowed (405)
    ├── StatementConflict (409, carries the statement id)
    ├── Conflict (409)
    ├── RequestTimeout (408; also a TimeoutError: the body did not arrive in time)
    ├── PreconditionFailed (412)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── TooManyRequests (429)
    ├── StoreError (500; the store refused an operation for a reason retrying cannot change)
    └── StoreUnavailable (503; the store cannot answer now: retry)

    ConfigError   not an LRSError and never an HTTP answer: a setting or key file is unusable;
                  raised at start-up, the `lrs` command prints it on one line and exits 2

Driver errors are translated into these inside the store modules; the middleware turns them into
JSON responses in one place. Nothing else reaches a client. The two bearer-token errors serve the
LTI adapter and the marketplace alike: each package renders them in its own body shape, with the
`WWW-Authenticate: Bearer ...` challenge their `challenge` method builds (RFC 6750 §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LRSError(Exception):
    """Base of every error the LRS reports to a client."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword details survive pickling (errors raised in the statement process pool).
        return (_rebuild, (type(self), self.args, self.__dict__))

    def to_json(self) -> dict[str, Any]:
        """The JSON body the client receives."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        body.update(self.details)
        return body


class BadRequest(LRSError):
    status = 400
    code = "bad_request"


class ValidationError(BadRequest):
    """A statement or parameter breaks a rule of the xAPI specification."""

    code = "invalid"

    def __init__(self, message: str, path: str = "", **details: Any) -> None:
        super().__init__(message, path=path, **details)
        self.path = path


class Unauthorized(LRSError):
    status = 401
    code = "unauthorized"
    # the `WWW-Authenticate` challenge a 401 must carry (RFC 9110 §11.6.1); None: the xAPI
    # API's HTTP Basic one. Endpoints with another scheme name theirs.
    challenge_header: str | None = None


class InvalidToken(Unauthorized):
    """A bearer token missing, malformed, expired, revoked or foreign (RFC 6750 §3.1)."""

    code = "invalid_token"

    def challenge(self, realm: str | None, **params: str) -> str:
        """The `WWW-Authenticate` value naming this error, `params` appended (RFC 6750 §3)."""
        return _bearer_challenge(realm, error=self.code, **params)


class TokenRequired(InvalidToken):
    """No bearer token at all (no Authorization header, or another scheme).

    RFC 6750 §3.1: when the request lacks any authentication information, the challenge
    carries no error code (nor its description); the body still says `invalid_token`.
    """

    def challenge(self, realm: str | None, **params: str) -> str:
        """`Bearer realm="..."` only."""
        return _bearer_challenge(realm)


class Forbidden(LRSError):
    status = 403
    code = "forbidden"


class InsufficientScope(Forbidden):
    """The bearer token carries none of the scopes the request needs (RFC 6750 §3.1).

    `scopes` are the ones that would do; `details` are the package's own body fields.
    """

    code = "insufficient_scope"

    def __init__(self, message: str, *, scopes: Sequence[str], **details: Any) -> None:
        super().__init__(message, **details)
        self.scopes = tuple(scopes)

    def challenge(self, realm: str | None) -> str:
        """The `WWW-Authenticate` value naming this error and the scopes (RFC 6750 §3)."""
        return _bearer_challenge(realm, error=self.code, scope=" ".join(self.scopes))


class NotFound(LRSError):
    status = 404
    code = "not_found"


class MethodNotAllowed(LRSError):
    status = 405
    code = "method_not_allowed"


class Conflict(LRSError):
    status = 409
    code = "conflict"


class StatementConflict(Conflict):
    """A statement id is already stored with different content."""

    code = "statement_conflict"

    def __init__(self, statement_id: str) -> None:
        super().__init__(
            f"statement {statement_id} already exists with different content",
            statement_id=statement_id,
        )
        self.statement_id = statement_id


class RequestTimeout(LRSError, TimeoutError):
    """The request body did not arrive within `LRS_BODY_TIMEOUT` (see `body_timeout_middleware`).

    A TimeoutError too, so that aiohttp, finding it on a payload after the response, closes the
    connection quietly instead of logging it as unhandled."""

    status = 408
    code = "request_timeout"


class PreconditionFailed(LRSError):
    status = 412
    code = "precondition_failed"


class PayloadTooLarge(LRSError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(LRSError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(LRSError):
    status = 429
    code = "too_many_requests"


class StoreError(LRSError):
    """The store refused an operation deterministically (a server error code, not an outage)."""

    code = "store_error"


class StoreUnavailable(LRSError):
    status = 503
    code = "store_unavailable"


def _bearer_challenge(realm: str | None, **params: str) -> str:
    """`Bearer realm="...", name="value", ...` (RFC 6750 §3), the realm left out when None."""
    pairs = ({"realm": realm} if realm is not None else {}) | params
    return "Bearer " + ", ".join(f'{name}="{value}"' for name, value in pairs.items())


class ConfigError(Exception):
    """A setting, key file or mapping the process cannot start with; the message names it."""


def _rebuild(cls: type[LRSError], args: tuple[Any, ...], state: dict[str, Any]) -> LRSError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error
