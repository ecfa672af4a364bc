"""Errors of the HRIS event endpoint and of `lrs hris sources`, in the LRS error tree.

    LRSError
    ├── BadRequest (400)
    │   ├── MalformedEvent (400: `details.problems`, one per event and field)
    │   └── InvalidSourceName (400)
    ├── Unauthorized (401)
    │   ├── UnknownSource (401)
    │   ├── SourceRevoked (401)
    │   ├── BadSignature (401: missing, unreadable or not matching)
    │   ├── StaleSignature (401: timestamp outside the replay window)
    │   └── ReplayedSignature (401: this signature was accepted already)
    ├── NotFound (404)
    │   └── SourceNotFound (404, the CLI)
    └── Conflict (409)
        ├── EventIdReused (409: an event id received before with another body)
        └── SourceExists (409, the CLI)

Every one answers `{"error": code, "message": ..., "details": {...}}` (`lrs.middlewares`).
A refused request applies nothing.
"""

from __future__ import annotations

from typing import Any

from lrs.errors import BadRequest, Conflict, LRSError, NotFound, Unauthorized


class HrisError(LRSError):
    """Answers with the details under `details` (always present), not merged into the body.

    Sets no `status` or `code`: each subclass takes those from its other base. A 401 names
    the endpoint's own scheme (a signature over the body, not HTTP Basic nor a token)."""

    challenge_header: str | None = (
        'LRS-HRIS-HMAC-SHA256 realm="hris", headers="X-HRIS-Source X-HRIS-Signature"'
    )

    def to_json(self) -> dict[str, Any]:
        """`{"error", "message", "details"}`."""
        return {"error": self.code, "message": self.message, "details": dict(self.details)}


class MalformedEvent(HrisError, BadRequest):
    """The body is not a valid event or array of events."""

    code = "malformed_event"


class InvalidSourceName(HrisError, BadRequest):
    """A source name the CLI refuses."""

    code = "invalid_source_name"


class UnknownSource(HrisError, Unauthorized):
    """No source of that name."""

    code = "unknown_source"


class SourceRevoked(HrisError, Unauthorized):
    """The source was revoked."""

    code = "source_revoked"


class BadSignature(HrisError, Unauthorized):
    """The signature header is missing, unreadable, or does not sign the body."""

    code = "bad_signature"


class StaleSignature(HrisError, Unauthorized):
    """The signature's timestamp is outside the replay window."""

    code = "stale_signature"


class ReplayedSignature(HrisError, Unauthorized):
    """This exact signed request was received before."""

    code = "replayed_signature"


class SourceNotFound(HrisError, NotFound):
    """`lrs hris sources rotate|revoke` named no source."""

    code = "source_not_found"


class EventIdReused(HrisError, Conflict):
    """An event id the source used before for a different event."""

    code = "event_id_reused"


class SourceExists(HrisError, Conflict):
    """`lrs hris sources create` named a source that exists."""

    code = "source_exists"
