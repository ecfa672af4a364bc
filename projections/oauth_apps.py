"""Registered marketplace apps of delegated OAuth: registration rules and app authentication.

Registration (`lrs marketplace apps create`, or the console's apps page: one service for
both) refuses, with a BadRequest naming the field (`name`, `redirect_uris`, `scopes`) and the
URI, before anything is written:
- a redirect URI that is not absolute, has a fragment (RFC 6749 §3.1.2) or a wildcard (`*`
  anywhere: redirect URIs are compared exactly, RFC 9700 §4.1.3);
- `http` anywhere but a loopback host (`127.0.0.1`, `[::1]`, `localhost`: development and
  native apps, RFC 8252 §7.3); every other URI must be `https`;
- a scope the marketplace does not know (`projections.scopes`).

A public app (`--public`) has no secret and must use PKCE (as every app must here); a
confidential app gets a secret shown once and kept as a salted scrypt hash (`lrs.auth`), checked
in constant time in a worker thread, with the same work done for an unknown app; a failure is
audited as `client.authentication_failed` (the id as given, why; never the secret). App ids start
with `app_`, so the token endpoint knows an app from a client-credentials client by its id.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lrs.auth import hash_secret, verify_secret
from lrs.errors import BadRequest
from projections.audit import AuditLog
from projections.errors import OAuthError
from projections.oauth_grants import DelegatedOAuth
from projections.store.oauth import OAuthApp, OAuthStore
from projections.tokens import check_scopes

APP_PREFIX = "app_"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_DUMMY_HASH = hash_secret(secrets.token_urlsafe(16))
_MAX_AUDITED_ID = 128


def is_app_id(client_id: str) -> bool:
    """Whether a client id names a registered app (not a client-credentials client)."""
    return client_id.startswith(APP_PREFIX)


def _bad_uri(uri: str, why: str) -> BadRequest:
    return BadRequest(f"redirect URI {uri!r} {why}", field="redirect_uris")


def check_redirect_uri(uri: str) -> str:
    """The URI if it may be registered; a BadRequest saying why not otherwise."""
    if "*" in uri:
        raise _bad_uri(uri, "has a wildcard: URIs are compared exactly")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise _bad_uri(uri, "is not a URI") from exc
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in uri):
        raise _bad_uri(uri, "must be absolute (scheme and host)")
    if "#" in uri:
        raise _bad_uri(uri, "must not have a fragment (RFC 6749 §3.1.2)")
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:  # lower-case, no brackets
        return uri
    raise _bad_uri(uri, "must use https (http only on a loopback host)")


@dataclass(frozen=True)
class NewApp:
    """An app as registered: the only moment a confidential app's secret exists in clear."""

    app: OAuthApp
    secret: str | None


class OAuthApps:
    """Registers, lists, revokes and authenticates apps; audits the changes."""

    def __init__(
        self,
        store: OAuthStore,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
        grants: DelegatedOAuth | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._grants = grants  # revokes an app's grants with it

    async def create(
        self,
        name: str,
        redirect_uris: Sequence[str],
        scopes: Sequence[str],
        *,
        public: bool,
        actor: str = "cli",
    ) -> NewApp:
        """Register an app (its secret, if confidential, is returned once)."""
        if not name.strip():
            raise BadRequest("an app needs a name", field="name")
        if not redirect_uris:
            raise BadRequest("an app needs at least one redirect URI", field="redirect_uris")
        uris = tuple(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        try:
            allowed = check_scopes(scopes)
        except BadRequest as exc:
            raise BadRequest(exc.message, field="scopes") from None
        secret = None if public else secrets.token_urlsafe(32)
        app = OAuthApp(
            client_id=APP_PREFIX + secrets.token_hex(8),
            name=name.strip(),
            redirect_uris=uris,
            scopes=allowed,
            secret_hash=hash_secret(secret) if secret else None,
            created_us=int(self._clock() * 1_000_000),
        )
        await self._store.add_app(app)
        details = {"name": app.name, "redirect_uris": list(uris), "scopes": list(app.scopes)}
        await self._audit.append(
            "oauth.app_created", actor=actor, subject=app.client_id, details=details
        )
        return NewApp(app=app, secret=secret)

    async def list(self) -> list[OAuthApp]:
        """Every app, oldest first."""
        return await self._store.list_apps()

    async def get(self, client_id: str) -> OAuthApp | None:
        """A live app, or None (unknown or revoked)."""
        app = await self._store.get_app(client_id)
        return app if app is not None and not app.revoked else None

    async def revoke(self, client_id: str, *, actor: str = "cli") -> bool:
        """Revoke an app: its tokens stop at their next use (the token service checks it);
        its live grants are revoked too (`app_revoked`), their refresh tokens deleted."""
        done = await self._store.revoke_app(client_id)
        if done:
            await self._audit.append("oauth.app_revoked", actor=actor, subject=client_id)
            if self._grants is not None:
                await self._grants.revoke_app_grants(client_id, actor=actor)
        return done

    async def authenticate(self, client_id: str, secret: str | None) -> OAuthApp:
        """The app if it is live and, when confidential, the secret is right (RFC 6749 §2.3.1);
        invalid_client otherwise, after the same scrypt work either way."""
        app = await self.get(client_id)
        wanted = app.secret_hash if app is not None and app.secret_hash else _DUMMY_HASH
        if app is not None and app.public:
            return app  # a public app proves itself with PKCE, not a secret
        given = secret or ""
        matches = await asyncio.to_thread(verify_secret, given, wanted)
        if app is not None and secret and matches:
            return app
        reason = "unknown or revoked app" if app is None else "wrong or missing secret"
        bounded = client_id[:_MAX_AUDITED_ID]  # the caller's text: bounded in the log
        await self._audit.append(
            "client.authentication_failed", actor=bounded, subject=bounded,
            details={"reason": reason},
        )  # fmt: skip
        raise OAuthError("invalid_client", "unknown app or wrong secret")
