"""Delegated OAuth grants: consent → code, code + PKCE → tokens, refresh with rotation,
revocation, introspection (RFC 6749 §4.1, RFC 7636, RFC 9700, RFC 7009, RFC 7662).

- Approving a request (the console's consent page) creates the grant and a code: 256 random
  bits, stored as its SHA-256, single-use, `CODE_TTL_S` (60 s) long, bound to the app, the
  redirect URI, the PKCE challenge, the scopes granted and the grant.
- Exchanging the code needs the same app, the same redirect URI and the PKCE verifier whose
  BASE64URL(SHA-256) is the challenge (S256 only; compared in constant time). The first
  exchange marks the code used (a compare-and-set in the store); a second one is a replay:
  refused, and the grant issued from the code is revoked with every token of it
  (RFC 6749 §4.1.2: "SHOULD revoke ... all tokens previously issued based on that code").
- The access token is the marketplace's short-lived JWT (`LRS_MARKETPLACE_TOKEN_TTL`, 15
  minutes by default) naming the grant; a refresh token (`rt_` + 256 random bits, stored as
  its SHA-256) lives `REFRESH_TTL_S` (30 days) and is used once: every refresh returns a new
  one. Presenting a used one again is reuse (RFC 9700 §4.14.2): the grant is revoked, so the
  thief's and the app's tokens all stop.
- A revoked grant's access tokens stop at their next verification in every process (the token
  service reads the grant each time: no cache delay); its refresh tokens are refused.
- Housekeeping (`forget_expired`, run hourly by the worker: `projections.oauth_housekeeping`):
  codes are forgotten `CODES_KEPT_S` (an hour) after they expired, as MongoDB's TTL index
  does, so a replay within that hour still revokes the grant; refresh tokens, used or not, when
  they expire: a used one is kept until then because presenting it again is how reuse is
  recognised, and after its expiry it could only be refused anyway. A revoked grant's refresh
  tokens are dropped as it is revoked: none can ever work again (a refresh racing with the
  revocation may leave its new token behind; it is refused, and goes when it expires).
- Audited: oauth.grant_issued (actor: the operator), oauth.token_refreshed,
  oauth.refresh_reused, oauth.grant_revoked (its reason: operator, refresh_reused,
  code_replayed, token_revoked, app_revoked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrs.errors import InvalidToken
from projections.audit import AuditLog
from projections.errors import OAuthError
from projections.oauth_authorize import AuthorizeRequest
from projections.store.oauth import (
    AuthCode,
    Forgotten,
    Grant,
    OAuthApp,
    OAuthStore,
    RefreshToken,
)
from projections.tokens import IssuedToken, TokenService

CODE_TTL_S = 60
CODES_KEPT_S = 3600  # after expiry: a replay in this hour still revokes the grant
REFRESH_TTL_S = 30 * 24 * 3600
REFRESH_PREFIX = "rt_"


def secret_hash(value: str) -> str:
    """The stored form of a code or refresh token (256 random bits: SHA-256 is enough)."""
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(verifier))) == challenge, in constant time."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=")
    return hmac.compare_digest(computed, challenge.encode("ascii", "replace"))


@dataclass(frozen=True)
class Tokens:
    """A token response of a grant: the access token and the refresh token that follows it."""

    access: IssuedToken
    refresh_token: str
    grant_id: str


class DelegatedOAuth:
    """The grants service: issues codes and tokens, rotates, detects reuse, revokes, inspects."""

    def __init__(
        self,
        store: OAuthStore,
        tokens: TokenService,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._audit = audit
        self._clock = clock

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    async def approve(self, request: AuthorizeRequest, scopes: tuple[str, ...], who: str) -> str:
        """The operator `who` consented: a new grant and its code (returned once)."""
        grant = Grant(
            "grt_" + secrets.token_hex(8), request.app.client_id, who, scopes, self._now_us()
        )
        await self._store.add_grant(grant)
        code = secrets.token_urlsafe(32)
        await self._store.add_code(
            AuthCode(
                secret_hash(code),
                request.app.client_id,
                request.redirect_uri,
                request.code_challenge,
                scopes,
                who,
                grant.grant_id,
                grant.created_us + CODE_TTL_S * 1_000_000,
            )
        )
        details = {"client_id": grant.client_id, "scopes": list(scopes)}
        await self._audit.append(
            "oauth.grant_issued", actor=f"operator:{who}", subject=grant.grant_id, details=details
        )
        return code

    async def exchange_code(
        self, app: OAuthApp, code: str, redirect_uri: str, verifier: str
    ) -> Tokens:
        """RFC 6749 §4.1.3 with PKCE; invalid_grant for any code that does not fit."""
        if not code or not redirect_uri or not verifier:
            raise OAuthError("invalid_request", "code, redirect_uri and code_verifier are required")
        use = await self._store.use_code(secret_hash(code), app.client_id)
        found = use.found
        # another app's attempt neither uses the code nor counts as its replay
        if not isinstance(found, AuthCode) or found.client_id != app.client_id:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if not use.first:  # RFC 6749 §4.1.2: a replayed code revokes what it gave
            await self.revoke_grant(found.grant_id, actor=app.client_id, reason="code_replayed")
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if found.expires_us <= self._now_us():
            raise OAuthError("invalid_grant", "the authorization code has expired")
        if redirect_uri != found.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
        if not pkce_matches(verifier, found.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        grant = await self._live_grant(found.grant_id, app)
        return await self._tokens_for(grant, grant.scopes)

    async def refresh(self, app: OAuthApp, refresh_token: str, scope: str | None) -> Tokens:
        """RFC 6749 §6 with rotation; a used token presented again revokes the grant."""
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        hashed = secret_hash(refresh_token)
        known = await self._store.get_refresh_token(hashed)
        grant = await self._store.get_grant(known.grant_id) if known else None
        if known is None or grant is None or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "unknown refresh token")
        use = await self._store.use_refresh_token(hashed)
        if not use.first:  # RFC 9700 §4.14.2: reuse means a leak; end the whole grant
            if await self.revoke_grant(
                grant.grant_id, actor=app.client_id, reason="refresh_reused"
            ):
                await self._audit.append(
                    "oauth.refresh_reused", actor=app.client_id, subject=grant.grant_id
                )
            raise OAuthError("invalid_grant", "the refresh token was already used: grant revoked")
        if known.expires_us <= self._now_us():
            raise OAuthError("invalid_grant", "the refresh token has expired")
        grant = await self._live_grant(grant.grant_id, app)
        asked = tuple(dict.fromkeys(scope.split())) if scope else grant.scopes
        if not set(asked) <= set(grant.scopes):
            raise OAuthError("invalid_scope", f"the grant holds only {' '.join(grant.scopes)}")
        tokens = await self._tokens_for(grant, asked)
        await self._audit.append(
            "oauth.token_refreshed", actor=app.client_id, subject=grant.grant_id
        )
        return tokens

    async def _live_grant(self, grant_id: str, app: OAuthApp) -> Grant:
        grant = await self._store.get_grant(grant_id)
        if grant is None or grant.revoked or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "the grant was revoked")
        return grant

    async def _tokens_for(self, grant: Grant, scopes: tuple[str, ...]) -> Tokens:
        access = await self._tokens.issue_for_grant(grant.client_id, grant.grant_id, scopes)
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        now = self._now_us()
        await self._store.add_refresh_token(
            RefreshToken(secret_hash(refresh), grant.grant_id, now, now + REFRESH_TTL_S * 10**6)
        )
        return Tokens(access=access, refresh_token=refresh, grant_id=grant.grant_id)

    async def revoke_grant(self, grant_id: str, *, actor: str, reason: str) -> bool:
        """Revoke a live grant and so every token of it; audited; False when not live."""
        done = await self._store.revoke_grant(grant_id, self._now_us(), reason)
        if done:
            await self._store.drop_refresh_tokens(grant_id)  # none can work again
            await self._audit.append(
                "oauth.grant_revoked", actor=actor, subject=grant_id, details={"reason": reason}
            )
        return done

    async def revoke_app_grants(self, client_id: str, *, actor: str) -> int:
        """Revoke every live grant of an app being revoked (reason `app_revoked`), so lists
        show them as they are and their refresh tokens go now; how many were live."""
        revoked, before = 0, None
        while page := await self._store.list_grants(500, client_id=client_id, before=before):
            for grant in page:
                if not grant.revoked and await self.revoke_grant(
                    grant.grant_id, actor=actor, reason="app_revoked"
                ):
                    revoked += 1
            before = (page[-1].created_us, page[-1].grant_id)
        return revoked

    async def forget_expired(self) -> Forgotten:
        """Drop codes expired over `CODES_KEPT_S` ago and refresh tokens past their expiry."""
        now = self._now_us()
        return await self._store.forget_expired(now - CODES_KEPT_S * 1_000_000, now)

    async def list_grants(
        self,
        limit: int = 1000,
        *,
        client_id: str | None = None,
        before: tuple[int, str] | None = None,
    ) -> list[Grant]:
        """Grants, newest first; an app's only, after a given one (see `OAuthStore`)."""
        return await self._store.list_grants(limit, client_id=client_id, before=before)

    async def revoke_token(self, token: str, caller: str, *, any_owner: bool = False) -> None:
        """RFC 7009 for the caller's tokens: a refresh token ends its grant (§2.1: the access
        tokens of that grant too); an access token is revoked alone. Others: ignored."""
        if not token.startswith(REFRESH_PREFIX):
            await self._tokens.revoke_for(token, caller, any_owner=any_owner)
            return
        known = await self._store.get_refresh_token(secret_hash(token))
        grant = await self._store.get_grant(known.grant_id) if known else None
        if grant is not None and (grant.client_id == caller or any_owner):
            await self.revoke_grant(grant.grant_id, actor=caller, reason="token_revoked")

    async def introspect(self, token: str, caller: str, *, any_owner: bool) -> dict[str, Any]:
        """RFC 7662: what the token is, if it is active and the caller's (or `any_owner`);
        `{"active": false}` otherwise, the same for unknown, expired, revoked or not theirs."""
        inactive: dict[str, Any] = {"active": False}
        if token.startswith(REFRESH_PREFIX):
            return await self._introspect_refresh(token, caller, any_owner) or inactive
        try:
            claims = await self._tokens.verify(token)
        except InvalidToken:
            return inactive
        if claims.client_id != caller and not any_owner:
            return inactive
        found: dict[str, Any] = {
            "active": True,
            "scope": " ".join(claims.scopes),
            "client_id": claims.client_id,
            "token_type": "Bearer",
            "exp": claims.expires_us // 1_000_000,
            "iss": self._tokens.issuer,
        }
        if claims.grant_id is not None:
            found["grant_id"] = claims.grant_id
        return found

    async def _introspect_refresh(
        self, token: str, caller: str, any_owner: bool
    ) -> dict[str, Any] | None:
        known = await self._store.get_refresh_token(secret_hash(token))
        if known is None or known.used or known.expires_us <= self._now_us():
            return None
        grant = await self._store.get_grant(known.grant_id)
        app = await self._store.get_app(grant.client_id) if grant else None
        if grant is None or grant.revoked or app is None or app.revoked:
            return None
        if grant.client_id != caller and not any_owner:
            return None
        return {
            "active": True,
            "scope": " ".join(grant.scopes),
            "client_id": grant.client_id,
            "token_type": "refresh_token",
            "exp": known.expires_us // 1_000_000,
            "iss": self._tokens.issuer,
            "grant_id": grant.grant_id,
        }
