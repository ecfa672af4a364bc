"""Commit-URL tokens: which attempt session a browser commit belongs to, signed and expiring.

A SCORM runtime's last commit usually leaves with `navigator.sendBeacon` while the page
unloads, and a beacon carries no Authorization header. So the authenticated LMS call that
opens an attempt gets back a commit URL whose last path segment is a token:

    base64url(JSON {"a": attempt id, "s": session id, "e": expiry, unix seconds})
    "." base64url(HMAC-SHA256(key, "scorm-commit.v1." + the first part))

Whoever holds the URL may commit to that one attempt session until it expires, nothing more.
The key never enters the database: it comes from LRS_SCORM_SIGNING_KEY or from a key file
created on first use with mode 0600 (see `load_signing_key`). Signatures are compared in
constant time. A token that does not verify is refused (403); a verified one past its expiry
is refused too (401: open the attempt again for a new URL).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from lrs.errors import Forbidden, Unauthorized
from lrs.keyfile import b64url, load_or_create_key, unb64url

log = logging.getLogger(__name__)

_CONTEXT = b"scorm-commit.v1."


class TokenInvalid(Forbidden):
    """The token is malformed or its signature does not verify."""

    code = "invalid_token"


class TokenExpired(Unauthorized):
    """The token verified but its lifetime is over."""

    code = "expired_token"


@dataclass(frozen=True)
class CommitClaims:
    """What a verified token says: the attempt, the session, the expiry (unix seconds)."""

    attempt_id: str
    session: str
    expires: int


class TokenSigner:
    """Signs and verifies commit tokens with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a signing key needs at least 32 bytes")
        self._key = key

    def sign(self, claims: CommitClaims) -> str:
        """The token for `claims`."""
        body = {"a": claims.attempt_id, "s": claims.session, "e": claims.expires}
        payload = b64url(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{b64url(self._mac(payload))}"

    def verify(self, token: str, now: float) -> CommitClaims:
        """The claims of a genuine, unexpired token; TokenInvalid or TokenExpired otherwise."""
        payload, dot, signature = token.partition(".")
        if not token.isascii() or not dot or not payload or not signature:
            raise TokenInvalid("the commit token is malformed")
        try:
            given = unb64url(signature)
        except (binascii.Error, ValueError):
            raise TokenInvalid("the commit token is malformed") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise TokenInvalid("the commit token's signature does not verify")
        try:
            body = json.loads(unb64url(payload))
            claims = CommitClaims(str(body["a"]), str(body["s"]), int(body["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise TokenInvalid("the commit token is malformed") from None
        if claims.expires <= now:
            raise TokenExpired("the commit URL has expired; open the attempt again for a new one")
        return claims

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()


def load_signing_key(configured: str | None, key_file: Path) -> bytes:
    """The configured key (LRS_SCORM_SIGNING_KEY), else the key file, created on first use.

    The file holds 32 random bytes and is created with mode 0600 (see `lrs.keyfile`).
    """
    if configured is not None:
        return configured.encode("utf-8")
    return load_or_create_key(key_file, purpose="SCORM commit-token signing key")
