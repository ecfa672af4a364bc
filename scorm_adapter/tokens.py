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

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from lrs.errors import Forbidden, Unauthorized

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
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: float) -> CommitClaims:
        """The claims of a genuine, unexpired token; TokenInvalid or TokenExpired otherwise."""
        payload, dot, signature = token.partition(".")
        if not dot or not payload or not signature:
            raise TokenInvalid("the commit token is malformed")
        try:
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            raise TokenInvalid("the commit token is malformed") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise TokenInvalid("the commit token's signature does not verify")
        try:
            body = json.loads(_unb64(payload))
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

    The file holds 32 random bytes, hex-encoded, and is created with mode 0600 by writing a
    temporary file and linking it into place, so concurrent first starts agree on one key.
    """
    if configured is not None:
        return configured.encode("utf-8")
    if not key_file.exists():
        _create_key_file(key_file)
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); chmod 600 it", key_file, mode)
    text = key_file.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise SystemExit(f"{key_file} does not hold a hex-encoded SCORM signing key") from None
    if len(key) < 32:
        raise SystemExit(f"{key_file} holds a key shorter than 32 bytes")
    return key


def _create_key_file(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = key_file.with_name(f".{key_file.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, key_file)  # fails if another process created it first
            log.info("created the SCORM commit-token signing key %s", key_file)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
