"""Errors the LTI adapter adds to the LRS tree (`lrs.errors`); the LRS middleware renders them.

    LRSError
    ├── TokenError (400; RFC 6749 §5.2, `error` is the OAuth error code)
    │   ├── InvalidRequest      invalid_request
    │   ├── InvalidClient       invalid_client (RFC 7523 §3.2: any client assertion failure)
    │   ├── UnsupportedGrantType unsupported_grant_type
    │   └── InvalidScope        invalid_scope
    └── KeysUnavailable (503; the master key cannot decrypt what the store holds)

Everything else the adapter reports is an `lrs.errors` class: BadRequest, NotFound, Forbidden,
Conflict, UnsupportedMediaType, and the bearer-token errors InvalidToken (401) and
InsufficientScope (403), to which `lti.http_ags` adds the RFC 6750 challenge. LTI 1.1 outcome
failures are answered as POX envelopes by `lti.http_outcomes`, which catches these same classes.
"""

from __future__ import annotations

from typing import Any

from lrs.errors import LRSError


class TokenError(LRSError):
    """A token request refused (RFC 6749 §5.2): 400 with `error` and `error_description`."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, error_description=message, **details)


class InvalidRequest(TokenError):
    code = "invalid_request"


class InvalidClient(TokenError):
    code = "invalid_client"


class UnsupportedGrantType(TokenError):
    code = "unsupported_grant_type"


class InvalidScope(TokenError):
    code = "invalid_scope"


class KeysUnavailable(LRSError):
    """The LTI master key cannot open what is stored (wrong or replaced key)."""

    status = 503
    code = "lti_keys_unavailable"
