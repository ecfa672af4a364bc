"""Credentials and scopes: HTTP Basic for xAPI clients (1.0.3 Part 3 §4).

Secrets are stored only as salted scrypt hashes and compared in constant time. scrypt is slow
on purpose, so a verified (key, secret) pair is remembered for a short time as an HMAC under a
per-process random key: later requests cost one HMAC, and neither the secret nor a fast hash
of it that outlives the process is kept. A revocation in this process drops the entry at once;
another process's revocation takes effect within `cache_seconds`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lrs.errors import BadRequest, Forbidden, Unauthorized
from lrs.model.credentials import Credential
from lrs.store.base import CredentialStore

# xAPI 1.0.3 Part 3 §4.2 scopes.
SCOPES = (
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "all/read",
    "all",
    "state",
    "define",
    "profile",
    # this LRS's own: void statements other credentials stored (with statements/write)
    "statements/void",
)
REALM = 'Basic realm="xAPI LRS"'
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    """A salted scrypt hash in a self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    params = f"{_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}"
    return f"scrypt${params}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches a `hash_secret` string, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            dklen=len(expected),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def validate_scopes(scopes: list[str]) -> tuple[str, ...]:
    """The scopes, or a BadRequest naming the unknown ones."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise BadRequest(f"unknown scope(s) {unknown}; known: {' '.join(SCOPES)}")
    return tuple(dict.fromkeys(scopes))


@dataclass(frozen=True)
class NewCredential:
    """A credential as created: the only moment the secret exists in clear."""

    credential: Credential
    secret: str


async def create_credential(store: CredentialStore, name: str, scopes: list[str]) -> NewCredential:
    """Mint a key and secret, store the key with the secret's hash, return both once."""
    secret = secrets.token_urlsafe(32)
    credential = Credential(
        key=secrets.token_hex(10),
        name=name,
        scopes=validate_scopes(scopes),
        secret_hash=hash_secret(secret),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    await store.add_credential(credential)
    return NewCredential(credential=credential, secret=secret)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the credential, and the authority agent its statements carry."""

    credential: Credential
    authority: dict[str, Any]

    @property
    def authority_key(self) -> str:
        """The IFI key of this principal's authority (for statements/read/mine)."""
        account = self.authority["account"]
        return f"account:{account['homePage']}\n{account['name']}"

    def has_any(self, *scopes: str) -> bool:
        """True when the credential holds at least one of `scopes`."""
        return any(scope in self.credential.scopes for scope in scopes)


class Authenticator:
    """Turns an Authorization header into a Principal, or a 401."""

    def __init__(
        self, store: CredentialStore, *, authority_home_page: str, cache_seconds: float = 30.0
    ) -> None:
        self._store = store
        self._home_page = authority_home_page
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[bytes, float, Credential]] = {}
        self._in_flight: dict[bytes, asyncio.Future[Credential]] = {}

    async def authenticate(self, header: str | None) -> Principal:
        """The caller behind an HTTP Basic header; 401 when missing, malformed or wrong."""
        key, secret = _parse_basic(header)
        tag = hmac.new(self._cache_key, f"{key}:{secret}".encode(), hashlib.sha256).digest()
        cached = self._verified.get(key)
        if cached and cached[1] > time.monotonic() and hmac.compare_digest(cached[0], tag):
            return self._principal(cached[2])
        # One scrypt run per (key, secret) at a time, off the event loop: concurrent requests
        # with the same credential wait for it instead of each running their own.
        running = self._in_flight.get(tag)
        if running is None:
            running = asyncio.ensure_future(self._verify(key, secret, tag))
            self._in_flight[tag] = running
            running.add_done_callback(lambda _done: self._in_flight.pop(tag, None))
        return self._principal(await asyncio.shield(running))

    async def _verify(self, key: str, secret: str, tag: bytes) -> Credential:
        credential = await self._store.get_credential(key)
        if credential is None or credential.revoked:
            # the same cost whether or not the key exists
            await asyncio.to_thread(verify_secret, secret, _DUMMY_HASH)
            raise Unauthorized(BAD_CREDENTIALS)
        if not await asyncio.to_thread(verify_secret, secret, credential.secret_hash):
            raise Unauthorized(BAD_CREDENTIALS)
        self._verified[key] = (tag, time.monotonic() + self._cache_seconds, credential)
        return credential

    def forget(self, key: str) -> None:
        """Drop a cached verification (after a revocation)."""
        self._verified.pop(key, None)

    def _principal(self, credential: Credential) -> Principal:
        authority = {
            "objectType": "Agent",
            "name": credential.name,
            "account": {"homePage": self._home_page, "name": credential.key},
        }
        return Principal(credential=credential, authority=authority)


# One answer for an unknown key and a wrong secret: telling them apart would let a caller
# probe which keys exist, which the constant-cost dummy check above is there to prevent.
BAD_CREDENTIALS = "unknown credential or wrong secret"

_DUMMY_HASH = hash_secret(secrets.token_urlsafe(16))


def _parse_basic(header: str | None) -> tuple[str, str]:
    if not header:
        raise Unauthorized("authentication required")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("HTTP Basic authentication required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    key, sep, secret = decoded.partition(":")
    if not sep or not key:
        raise Unauthorized("malformed Basic credentials")
    return key, secret


# What each kind of request needs; any one of the listed scopes suffices (1.0.3 Part 3 §4.2).
STATEMENTS_READ = ("statements/read", "statements/read/mine", "all/read", "all")
STATEMENTS_WRITE = ("statements/write", "all")
STATE = ("state", "all")
PROFILE = ("profile", "all")
PROFILE_READ = ("profile", "all/read", "all")
STATE_READ = ("state", "all/read", "all")
VOID_OTHERS = ("statements/void", "all")
DEFINE_READ = ("define", "all/read", "all", "statements/read", "statements/write")


def require(principal: Principal, scopes: tuple[str, ...]) -> None:
    """A 403 unless the principal holds one of `scopes`."""
    if not principal.has_any(*scopes):
        raise Forbidden(f"this credential lacks a scope for this request (one of {list(scopes)})")


def read_mine_only(principal: Principal) -> str | None:
    """The authority filter for a credential that may read only its own statements."""
    if principal.has_any("statements/read", "all/read", "all"):
        return None
    return principal.authority_key
