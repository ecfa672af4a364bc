"""OAuth 2.0 client credentials for the marketplace: clients, JWT access tokens, revocation.

- Clients have an id, a secret (stored only as a salted scrypt hash, `lrs.auth.hash_secret`,
  checked in constant time in a worker thread; the same work is done for an unknown id) and
  scopes.
- Access tokens are short-lived JWTs (HS256, `LRS_MARKETPLACE_TOKEN_TTL`, 15 minutes by
  default) with `iss`, `sub` (the client), `aud`, `iat`, `nbf`, `exp`, `jti` and `scope`. The
  header's `kid` names the signing key, derived from the master key (`projections.keyring`).
- Rotation adds a new kid; tokens signed with older kids stay valid until they expire, unless
  the kid is retired. Revocation (RFC 7009) records the token's `jti`; revoking a client makes
  all its tokens invalid at once. Retiring a kid also records `kid:<kid>` as revoked, and every
  verification asks the store, in the one read it makes for the token's `jti`, whether either
  is revoked: a retirement takes effect in every process at once, while the key ids
  themselves are read at most every 30 s (or when a token names an unknown one).
- A client's secret is rotated by issuing a new one (`rotate_secret`, shown once); the one it
  replaces keeps working for a grace period, then stops (its hash stays in
  `ApiClient.previous_secrets` until the next rotation). Both secrets are checked every time,
  so the cost does not tell which one matched.
- Tokens of a delegated grant (authorization code with PKCE: `projections.oauth_grants`) are
  the same JWTs with the app as `sub` and the grant id as `gid`. Verifying one reads its grant
  and its app (no cache): revoking the grant (by an operator, or on refresh-token reuse or
  code replay) or the app stops every access token of it at their next use, in every process.
- Issuance, revocation, client and key changes are written to the audit log
  (`projections.audit`): who, what, when, never a secret or a token.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from lrs.auth import hash_secret, verify_secret
from lrs.errors import BadRequest, InsufficientScope, InvalidToken
from projections.audit import AuditLog
from projections.errors import OAuthError
from projections.keyring import Keyring
from projections.scopes import SCOPES, FieldView, effective_scopes
from projections.store.base import AccessStore, ApiClient, PreviousSecret, SigningKey
from projections.store.oauth import OAuthStore
from projections.transforms import format_datetime

AUDIENCE = "lrs-marketplace"
_KEY_CACHE_S = 30.0
_RETIRED = "kid:"  # revocation id of a retired signing key: `kid:<kid>`
_RETIRED_UNTIL_US = 4_000_000_000_000_000  # year 2096: kept as long as any token could live
_MAX_AUDITED_ID = 128  # characters of an unknown client id an audit entry keeps
_LEEWAY_S = 30  # clock skew tolerated between the processes of one deployment
_DUMMY_HASH = hash_secret(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class NewClient:
    """A client as created: the only moment its secret exists in clear."""

    client: ApiClient
    secret: str


@dataclass(frozen=True)
class RotatedSecret:
    """A client's new secret (shown once) and when its previous one stops working."""

    client_id: str
    secret: str
    previous_until_us: int


def _failure_reason(
    client: ApiClient | None, previous_matches: Sequence[bool], previous: Sequence[PreviousSecret]
) -> str:
    """Why a client authentication failed, for the audit log (never the secret)."""
    if client is None:
        return "unknown client"
    if client.revoked:
        return "revoked client"
    ended = [p.until_us for m, p in zip(previous_matches, previous, strict=True) if m]
    if ended:
        return f"previous secret, its grace ended {format_datetime(max(ended))}"
    return "wrong secret"


@dataclass(frozen=True)
class IssuedToken:
    """An access token and what the token response says about it."""

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenClaims:
    """A verified access token."""

    client_id: str
    scopes: tuple[str, ...]
    jti: str
    expires_us: int
    rate_limit_per_min: int | None
    grant_id: str | None = None  # a delegated (authorization code) token's grant

    @property
    def fields(self) -> FieldView:
        """What of records and summaries this token may see."""
        return FieldView.of(self.scopes)

    def require(self, *needed: str) -> None:
        """403 unless the token holds one of `needed` (`admin` holds every scope, the union
        `read:activity:aggregate` every record scope: `projections.scopes`)."""
        if effective_scopes(self.scopes) & set(needed):
            return
        raise InsufficientScope(
            f"this token lacks the scope for this request (one of {list(needed)})",
            scopes=needed,
            required=list(needed),
        )


def _token_claims(
    claims: dict[str, Any], owner: str, rate_limit: int | None, grant_id: str | None = None
) -> TokenClaims:
    """The verified claims of a client's or a grant's token."""
    return TokenClaims(
        client_id=owner,
        scopes=tuple(str(claims.get("scope", "")).split()),
        jti=claims["jti"],
        expires_us=int(claims["exp"]) * 1_000_000,
        rate_limit_per_min=rate_limit,
        grant_id=grant_id,
    )


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """The scopes, or a BadRequest naming the unknown ones."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise BadRequest(f"unknown scope(s) {unknown}; known: {' '.join(SCOPES)}")
    return tuple(dict.fromkeys(scopes))


class TokenService:
    """Creates clients, issues, verifies and revokes tokens, rotates keys; audits all of it."""

    def __init__(
        self,
        store: AccessStore,
        keyring: Keyring,
        *,
        audit: AuditLog,
        issuer: str,
        ttl_s: int = 900,
        clock: Callable[[], float] = time.time,
        grants: OAuthStore | None = None,
    ) -> None:
        self._store = store
        self._grants = grants
        self._keyring = keyring
        self._audit_log = audit
        self._issuer = issuer
        self._ttl_s = ttl_s
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._keys_read_at = float("-inf")

    @property
    def issuer(self) -> str:
        """The `iss` of its tokens (and of authorization responses, RFC 9207)."""
        return self._issuer

    async def _audit(self, action: str, actor: str, subject: str, **details: Any) -> None:
        await self._audit_log.append(action, actor=actor, subject=subject, details=details)

    async def create_client(
        self, name: str, scopes: Sequence[str], *, rate_limit: int | None = None, actor: str = "cli"
    ) -> NewClient:
        """A new client with a fresh id and secret (the secret is returned once)."""
        secret = secrets.token_urlsafe(32)
        client = ApiClient(
            client_id="mkt_" + secrets.token_hex(8),
            name=name,
            scopes=check_scopes(scopes),
            secret_hash=hash_secret(secret),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rate_limit_per_min=rate_limit,
        )
        await self._store.add_client(client)
        await self._audit("client.created", actor, client.client_id, scopes=list(client.scopes))
        return NewClient(client=client, secret=secret)

    async def revoke_client(self, client_id: str, *, actor: str = "cli") -> bool:
        """Revoke a client and, with it, every token it holds."""
        done = await self._store.revoke_client(client_id)
        if done:
            await self._audit("client.revoked", actor, client_id)
        return done

    async def rotate_key(self, *, actor: str = "cli") -> SigningKey:
        """Start signing with a new key id; older ones still verify until retired."""
        existing = await self._store.signing_keys()
        created_us = max([int(self._clock() * 1e6)] + [k.created_us + 1 for k in existing])
        key = SigningKey(kid="k_" + secrets.token_hex(6), created_us=created_us)
        await self._store.add_signing_key(key)
        self._keys_read_at = float("-inf")
        await self._audit("key.rotated", actor, key.kid)
        return key

    async def retire_key(self, kid: str, *, actor: str = "cli") -> bool:
        """Refuse tokens signed with this key id from now on, in every process.

        First no new token is signed with it, then its `kid:` revocation makes every
        process refuse its tokens at their next verification.
        """
        done = await self._store.retire_signing_key(kid)
        self._keys_read_at = float("-inf")
        if done:
            await self._store.revoke_token(_RETIRED + kid, _RETIRED_UNTIL_US)
            await self._audit("key.retired", actor, kid)
        return done

    async def _signing_keys(self, *, fresh: bool = False) -> list[SigningKey]:
        if fresh or time.monotonic() - self._keys_read_at > _KEY_CACHE_S:
            self._keys = await self._store.signing_keys()
            self._keys_read_at = time.monotonic()
        return self._keys

    async def _current_key(self) -> SigningKey:
        live = [k for k in await self._store.signing_keys() if not k.retired]
        return live[-1] if live else await self.rotate_key(actor="system")

    async def authenticate_client(
        self, client_id: str, secret: str, *, address: str = ""
    ) -> ApiClient:
        """The client if the secret is right; invalid_client otherwise (same cost either way).

        scrypt runs in a thread: it is slow on purpose and must not stall the event loop.
        A failure is audited (`client.authentication_failed`: the client id as given, the
        address, why; never the secret).
        """
        client = await self._store.get_client(client_id) if client_id else None
        known = client if client is not None and not client.revoked else None
        hashes = [known.secret_hash] if known is not None else [_DUMMY_HASH]
        previous = known.previous_secrets if known is not None else ()
        hashes += [p.secret_hash for p in previous]
        # every hash is checked, whichever matches: the cost does not tell which one did
        matches = await asyncio.to_thread(lambda: [verify_secret(secret, h) for h in hashes])
        now_us = int(self._clock() * 1_000_000)
        in_grace = any(
            m and p.until_us > now_us for m, p in zip(matches[1:], previous, strict=True)
        )
        if known is not None and (matches[0] or in_grace):
            return known
        reason = _failure_reason(client, matches[1:], previous)
        given = client_id[:_MAX_AUDITED_ID]  # the caller's text: bounded in the log
        await self._audit(
            "client.authentication_failed", given, given, address=address, reason=reason
        )
        raise OAuthError("invalid_client", "unknown client or wrong secret")

    async def rotate_secret(
        self, client_id: str, *, grace_s: float, actor: str = "cli"
    ) -> RotatedSecret | None:
        """A new secret for a live client (returned once); the current one is accepted for
        `grace_s` more seconds (0: not at all). None when the client is unknown or revoked."""
        secret = secrets.token_urlsafe(32)
        now_us = int(self._clock() * 1_000_000)
        until_us = now_us + int(grace_s * 1_000_000)
        done = await self._store.replace_client_secret(
            client_id, hash_secret(secret), previous_until_us=until_us, now_us=now_us
        )
        if not done:
            return None
        previous_until = format_datetime(until_us) if grace_s > 0 else None
        await self._audit(
            "client.secret_rotated", actor, client_id, previous_secret_valid_until=previous_until
        )
        return RotatedSecret(client_id=client_id, secret=secret, previous_until_us=until_us)

    async def issue(self, client: ApiClient, requested: Sequence[str] | None) -> IssuedToken:
        """A token for an authenticated client, with the requested scopes (default: all its)."""
        scopes = tuple(dict.fromkeys(requested)) if requested else client.scopes
        # a narrower token may be asked for: `read:scores` of a `read:activity:aggregate` client
        if not set(scopes) <= effective_scopes(client.scopes):
            raise OAuthError("invalid_scope", f"this client may ask only for {list(client.scopes)}")
        return await self._sign(client.client_id, scopes, {})

    async def issue_for_grant(
        self, client_id: str, grant_id: str, scopes: Sequence[str]
    ) -> IssuedToken:
        """A token of a delegated grant (authorization code, refresh): the app is `sub`, the
        grant is `gid`; it stops working when the grant or the app is revoked."""
        return await self._sign(client_id, tuple(scopes), {"gid": grant_id})

    async def _sign(
        self, subject: str, scopes: tuple[str, ...], extra: dict[str, Any]
    ) -> IssuedToken:
        key = await self._current_key()
        now = int(self._clock())
        jti = uuid.uuid4().hex
        claims = {
            "iss": self._issuer,
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl_s,
            "jti": jti,
            "scope": " ".join(scopes),
            **extra,
        }
        token = jwt.encode(
            claims, self._keyring.token_key(key.kid), algorithm="HS256", headers={"kid": key.kid}
        )
        await self._audit(
            "token.issued",
            subject,
            jti,
            scopes=list(scopes),
            expires=format_datetime((now + self._ttl_s) * 1_000_000),
            **extra,
        )
        return IssuedToken(access_token=token, expires_in=self._ttl_s, scopes=scopes)

    async def _decode(self, token: str, *, verify_exp: bool = True) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed access token") from exc
        keys = {k.kid: k for k in await self._signing_keys()}
        if kid not in keys:
            keys = {k.kid: k for k in await self._signing_keys(fresh=True)}
        if not isinstance(kid, str) or kid not in keys or keys[kid].retired:
            raise InvalidToken("the token's signing key is unknown or retired")
        try:
            claims = jwt.decode(
                token,
                self._keyring.token_key(kid),
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=self._issuer,
                # times are checked below, against this service's clock
                options={
                    "require": ["exp", "iat", "jti", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid access token: {exc}") from exc
        now = self._clock()
        if not isinstance(claims["exp"], int) or (verify_exp and claims["exp"] <= now):
            raise InvalidToken("the access token has expired")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + _LEEWAY_S:
            raise InvalidToken("the access token is not valid yet")
        return claims

    async def verify(self, token: str) -> TokenClaims:
        """The claims of a valid, unrevoked token of a live client or grant; 401 otherwise."""
        claims = await self._decode(token)
        kid = jwt.get_unverified_header(token)["kid"]  # _decode checked it
        if await self._store.any_revoked([claims["jti"], _RETIRED + kid]):
            raise InvalidToken("the token was revoked, or its signing key retired")
        grant_id = claims.get("gid")
        if grant_id is not None:
            return await self._verify_delegated(claims, str(grant_id))
        client = await self._store.get_client(claims["sub"])
        if client is None or client.revoked:
            raise InvalidToken("the token's client was revoked")
        return _token_claims(claims, client.client_id, client.rate_limit_per_min)

    async def _verify_delegated(self, claims: dict[str, Any], grant_id: str) -> TokenClaims:
        """A grant's token lives while its grant and its app do: both read at every
        verification (no cache), so a revocation stops it at once in every process."""
        grant = await self._grants.get_grant(grant_id) if self._grants is not None else None
        if grant is None or grant.revoked or grant.client_id != claims["sub"]:
            raise InvalidToken("the token's grant was revoked")
        app = await self._grants.get_app(grant.client_id) if self._grants is not None else None
        if app is None or app.revoked:
            raise InvalidToken("the token's app was revoked")
        return _token_claims(claims, app.client_id, None, grant_id)

    async def revoke(self, token: str, client: ApiClient) -> None:
        """RFC 7009: revoke a token the client holds (or any, for an admin client).

        Tokens that are invalid, expired or someone else's are ignored: the answer is the same.
        """
        await self.revoke_for(token, client.client_id, any_owner="admin" in client.scopes)

    async def revoke_for(self, token: str, caller: str, *, any_owner: bool = False) -> bool:
        """Revoke an access token whose `sub` is `caller` (any, with `any_owner`); whether it
        was one (a client's or an app's: RFC 7009 answers the same either way)."""
        try:
            claims = await self._decode(token, verify_exp=False)
        except InvalidToken:
            return False
        if claims["sub"] != caller and not any_owner:
            return False
        await self._store.revoke_token(claims["jti"], int(claims["exp"]) * 1_000_000)
        await self._audit("token.revoked", caller, claims["jti"], owner=claims["sub"])
        return True
