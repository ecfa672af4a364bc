"""The storage seam of delegated OAuth (authorization code + PKCE, rotating refresh tokens).

    OAuthApp      a registered marketplace app: exact redirect URIs, the scopes it may ask
                  for, public (PKCE only) or confidential (a scrypt-hashed secret), revoked
    AuthCode      an authorization code, known by the SHA-256 of its value: single-use,
                  short-lived, bound to the app, the redirect URI, the PKCE challenge, the
                  scopes, the consenting operator and the grant it belongs to
    Grant         what an operator consented to: an app, the operator, the scopes; revoked
                  once (by the operator, or by code replay / refresh-token reuse)
    RefreshToken  known by the SHA-256 of its value; used once (rotation), then kept so that
                  a second use is recognised as reuse

Housekeeping: `forget_expired` drops codes and refresh tokens past their cut-offs (a used
refresh token is kept until it would have expired, so its reuse is still recognised), and
`drop_refresh_tokens` the tokens of a grant once it is revoked (they can never work again).

Codes and refresh tokens are 256 random bits, so a plain SHA-256 is a safe stored form that an
index can find. "Used once" is a compare-and-set in the store on both backends (SQLite
`UPDATE ... WHERE used = 0`, MongoDB `find_one_and_update` on `used: false`): of two requests
presenting one code or one refresh token, exactly one is first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OAuthApp:
    """A registered app; `secret_hash` is None for a public (PKCE-only) app."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    secret_hash: str | None
    created_us: int
    revoked: bool = False

    @property
    def public(self) -> bool:
        """Whether the app has no secret (a browser or native app)."""
        return self.secret_hash is None


@dataclass(frozen=True)
class AuthCode:
    """An authorization code as stored (its hash, never its value)."""

    code_hash: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    scopes: tuple[str, ...]
    operator: str
    grant_id: str
    expires_us: int


@dataclass(frozen=True)
class Grant:
    """An operator's consent to an app for some scopes."""

    grant_id: str
    client_id: str
    operator: str
    scopes: tuple[str, ...]
    created_us: int
    revoked_us: int | None = None
    revoked_reason: str | None = None

    @property
    def revoked(self) -> bool:
        """Whether the grant (and every token of it) is revoked."""
        return self.revoked_us is not None


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token as stored (its hash); `used` once it was exchanged."""

    token_hash: str
    grant_id: str
    created_us: int
    expires_us: int
    used: bool = False


@dataclass(frozen=True)
class Use:
    """What presenting a code or a refresh token found: the stored item (None: unknown) and
    whether this presentation was its first (False: a replay)."""

    found: AuthCode | RefreshToken | None
    first: bool


@dataclass(frozen=True)
class Forgotten:
    """What one housekeeping pass dropped."""

    codes: int
    refresh_tokens: int


@runtime_checkable
class OAuthStore(Protocol):
    """Apps, codes, grants and refresh tokens."""

    async def add_app(self, app: OAuthApp) -> None:
        """Store a new app (Conflict when its id exists)."""
        ...

    async def get_app(self, client_id: str) -> OAuthApp | None:
        """One app, or None."""
        ...

    async def list_apps(self) -> list[OAuthApp]:
        """Every app, oldest first."""
        ...

    async def revoke_app(self, client_id: str) -> bool:
        """Mark the app revoked; False when unknown."""
        ...

    async def add_code(self, code: AuthCode) -> None:
        """Keep a new authorization code (and forget codes expired over an hour ago)."""
        ...

    async def use_code(self, code_hash: str, client_id: str) -> Use:
        """Mark the code used (compare-and-set) if it is `client_id`'s; the code (whoever's),
        and whether this was its first use (another client's attempt never uses it)."""
        ...

    async def add_grant(self, grant: Grant) -> None:
        """Keep a new grant."""
        ...

    async def get_grant(self, grant_id: str) -> Grant | None:
        """One grant, or None."""
        ...

    async def list_grants(
        self,
        limit: int = 1000,
        *,
        client_id: str | None = None,
        before: tuple[int, str] | None = None,
    ) -> list[Grant]:
        """Grants, newest first (by creation, then id): only `client_id`'s when given, and only
        those after `before` in that order (the (created_us, grant_id) of the last one seen)."""
        ...

    async def revoke_grant(self, grant_id: str, at_us: int, reason: str) -> bool:
        """Revoke a live grant; False when unknown or already revoked."""
        ...

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Keep a new refresh token."""
        ...

    async def use_refresh_token(self, token_hash: str) -> Use:
        """Mark the token used (compare-and-set); the token, and whether this was its first use."""
        ...

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """One refresh token (for introspection), or None."""
        ...

    async def forget_expired(self, codes_before_us: int, tokens_before_us: int) -> Forgotten:
        """Drop codes that expired before `codes_before_us` and refresh tokens (used or not)
        that expired at or before `tokens_before_us`; how many of each."""
        ...

    async def drop_refresh_tokens(self, grant_id: str) -> int:
        """Drop every refresh token of a grant (revoked: none can work again); how many."""
        ...
