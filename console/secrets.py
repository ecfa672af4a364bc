"""The console's secrets: passwords, one-time links, session ids and CSRF tokens.

Passwords are hashed like every other secret of the project (`lrs.auth.hash_secret`: salted
scrypt, compared in constant time). Link tokens and session ids are 256 random bits, so a
plain SHA-256 of them is enough to store (nobody can search 2**256 values) and lets the store
find them by an index. The CSRF token is an HMAC of the session id: it needs no storage, dies
with the session, and cannot be computed without the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from lrs.auth import hash_secret, verify_secret

__all__ = ["csrf_token", "hash_secret", "new_token", "token_hash", "valid_csrf", "verify_secret"]

_CSRF_CONTEXT = b"lrs-console-csrf\0"


def new_token() -> tuple[str, str]:
    """A fresh random token (to hand out once) and its hash (to store)."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    """The stored form of a link token or session id."""
    return hashlib.sha256(raw.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The CSRF token every form of this session carries."""
    return hmac.new(session_id.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def valid_csrf(session_id: str, presented: str | None) -> bool:
    """Whether a form's token is this session's, compared in constant time."""
    return presented is not None and hmac.compare_digest(
        csrf_token(session_id).encode(), presented.encode()
    )
