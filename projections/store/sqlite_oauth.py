"""SQLite OAuthStore: tables `oauth_apps`, `oauth_codes`, `oauth_grants`,
`oauth_refresh_tokens`. Codes are forgotten an hour or so after they expired (when a new one
is added). A code or refresh token is used by `UPDATE ... WHERE used = 0` in the
one writer's transaction: the row count says whether this use was the first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from lrs.errors import Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.oauth import AuthCode, Forgotten, Grant, OAuthApp, RefreshToken, Use

OAUTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_apps (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT,
    created_us INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes TEXT NOT NULL,
    operator TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    expires_us INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth_codes_expiry ON oauth_codes(expires_us);
CREATE TABLE IF NOT EXISTS oauth_grants (
    grant_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    operator TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS oauth_grants_created ON oauth_grants(created_us);
CREATE INDEX IF NOT EXISTS oauth_grants_app ON oauth_grants(client_id, created_us, grant_id);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth_refresh_tokens_grant ON oauth_refresh_tokens(grant_id);
CREATE INDEX IF NOT EXISTS oauth_refresh_tokens_expiry ON oauth_refresh_tokens(expires_us);
"""

_CODES_KEPT_US = 2 * 3600 * 1_000_000  # a code's lifetime and an hour, with room to spare

_APP = (
    "SELECT client_id, name, redirect_uris, scopes, secret_hash, created_us, revoked"
    " FROM oauth_apps"
)
_CODE = (
    "SELECT code_hash, client_id, redirect_uri, code_challenge, scopes, operator, grant_id,"
    " expires_us FROM oauth_codes WHERE code_hash = ?"
)
_GRANT = (
    "SELECT grant_id, client_id, operator, scopes, created_us, revoked_us, revoked_reason"
    " FROM oauth_grants"
)
_REFRESH = (
    "SELECT token_hash, grant_id, created_us, expires_us, used FROM oauth_refresh_tokens"
    " WHERE token_hash = ?"
)


def _app(row: Any) -> OAuthApp:
    cid, name, uris, scopes, secret_hash, created_us, revoked = row
    uri_list, scope_list = tuple(uris.split()), tuple(scopes.split())
    return OAuthApp(cid, name, uri_list, scope_list, secret_hash, created_us, bool(revoked))


def _grant(row: Any) -> Grant:
    gid, cid, operator, scopes, created_us, revoked_us, reason = row
    return Grant(gid, cid, operator, tuple(scopes.split()), created_us, revoked_us, reason)


def _code(row: Any) -> AuthCode:
    code_hash, cid, uri, challenge, scopes, operator, gid, expires_us = row
    scope_list = tuple(scopes.split())
    return AuthCode(code_hash, cid, uri, challenge, scope_list, operator, gid, expires_us)


def _refresh(row: Any) -> RefreshToken:
    token_hash, gid, created_us, expires_us, used = row
    return RefreshToken(token_hash, gid, created_us, expires_us, bool(used))


class SQLiteOAuthStore:
    """Delegated OAuth's apps, codes, grants and refresh tokens in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(OAUTH_SCHEMA)

    async def add_app(self, app: OAuthApp) -> None:
        """Insert the app."""
        row = (
            app.client_id,
            app.name,
            " ".join(app.redirect_uris),
            " ".join(app.scopes),
            app.secret_hash,
            app.created_us,
            int(app.revoked),
        )

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO oauth_apps VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise Conflict(f"app {app.client_id} exists") from None

        await self._db.write(job)

    async def get_app(self, client_id: str) -> OAuthApp | None:
        """One app."""
        sql = f"{_APP} WHERE client_id = ?"
        row = await self._db.read(lambda c: c.execute(sql, (client_id,)).fetchone())
        return _app(row) if row else None

    async def list_apps(self) -> list[OAuthApp]:
        """Oldest first."""
        sql = f"{_APP} ORDER BY created_us, client_id"
        return [_app(r) for r in await self._db.read(lambda c: c.execute(sql).fetchall())]

    async def revoke_app(self, client_id: str) -> bool:
        """Mark revoked."""
        sql = "UPDATE oauth_apps SET revoked = 1 WHERE client_id = ?"
        return await self._db.write(lambda c: c.execute(sql, (client_id,)).rowcount > 0)

    async def add_code(self, code: AuthCode) -> None:
        """Insert the code, unused."""
        row = (
            code.code_hash,
            code.client_id,
            code.redirect_uri,
            code.code_challenge,
            " ".join(code.scopes),
            code.operator,
            code.grant_id,
            code.expires_us,
        )
        sql = "INSERT INTO oauth_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
        stale = "DELETE FROM oauth_codes WHERE expires_us < ?"  # as MongoDB's TTL index does

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(stale, (code.expires_us - _CODES_KEPT_US,))
            conn.execute(sql, row)

        await self._db.write(job)

    async def use_code(self, code_hash: str, client_id: str) -> Use:
        """Compare-and-set `used` in one transaction, for the code's own client only."""
        owner = ("client_id", client_id)
        return await self._use("oauth_codes", "code_hash", code_hash, _CODE, _code, owner)

    async def _use(
        self,
        table: str,
        key: str,
        value: str,
        select: str,
        parse: Callable[[Any], Any],
        owner: tuple[str, str] | None = None,
    ) -> Use:
        """Mark a row used unless it was (the row count says which), then read it."""
        sql = f"UPDATE {table} SET used = 1 WHERE {key} = ? AND used = 0"
        args = (value,) if owner is None else (value, owner[1])
        if owner is not None:
            sql += f" AND {owner[0]} = ?"

        def job(conn: sqlite3.Connection) -> Use:
            first = conn.execute(sql, args).rowcount > 0
            row = conn.execute(select, (value,)).fetchone()
            return Use(parse(row) if row else None, first)

        return await self._db.write(job)

    async def add_grant(self, grant: Grant) -> None:
        """Insert the grant."""
        row = (
            grant.grant_id,
            grant.client_id,
            grant.operator,
            " ".join(grant.scopes),
            grant.created_us,
            grant.revoked_us,
            grant.revoked_reason,
        )
        sql = "INSERT INTO oauth_grants VALUES (?, ?, ?, ?, ?, ?, ?)"
        await self._db.write(lambda c: c.execute(sql, row))

    async def get_grant(self, grant_id: str) -> Grant | None:
        """One grant."""
        sql = f"{_GRANT} WHERE grant_id = ?"
        row = await self._db.read(lambda c: c.execute(sql, (grant_id,)).fetchone())
        return _grant(row) if row else None

    async def list_grants(
        self,
        limit: int = 1000,
        *,
        client_id: str | None = None,
        before: tuple[int, str] | None = None,
    ) -> list[Grant]:
        """Newest first, by the creation index (or the app's)."""
        where: list[str] = ["1 = 1"]
        args: list[int | str] = []
        if client_id is not None:
            where.append("client_id = ?")
            args.append(client_id)
        if before is not None:
            where.append("(created_us < ? OR (created_us = ? AND grant_id < ?))")
            args.extend((before[0], before[0], before[1]))
        sql = (
            f"{_GRANT} WHERE {' AND '.join(where)} ORDER BY created_us DESC, grant_id DESC LIMIT ?"
        )
        rows = await self._db.read(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [_grant(r) for r in rows]

    async def revoke_grant(self, grant_id: str, at_us: int, reason: str) -> bool:
        """Revoke once: only a live grant changes."""
        sql = (
            "UPDATE oauth_grants SET revoked_us = ?, revoked_reason = ?"
            " WHERE grant_id = ? AND revoked_us IS NULL"
        )
        return await self._db.write(
            lambda c: c.execute(sql, (at_us, reason, grant_id)).rowcount > 0
        )

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Insert the token, unused."""
        row = (token.token_hash, token.grant_id, token.created_us, token.expires_us)
        sql = "INSERT INTO oauth_refresh_tokens VALUES (?, ?, ?, ?, 0)"
        await self._db.write(lambda c: c.execute(sql, row))

    async def use_refresh_token(self, token_hash: str) -> Use:
        """Compare-and-set `used` in one transaction."""
        return await self._use("oauth_refresh_tokens", "token_hash", token_hash, _REFRESH, _refresh)

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """One refresh token."""
        row = await self._db.read(lambda c: c.execute(_REFRESH, (token_hash,)).fetchone())
        return _refresh(row) if row else None

    async def forget_expired(self, codes_before_us: int, tokens_before_us: int) -> Forgotten:
        """Two deletes in one transaction, each served by its expiry index."""

        def job(conn: sqlite3.Connection) -> Forgotten:
            codes = conn.execute(
                "DELETE FROM oauth_codes WHERE expires_us < ?", (codes_before_us,)
            ).rowcount
            tokens = conn.execute(
                "DELETE FROM oauth_refresh_tokens WHERE expires_us <= ?", (tokens_before_us,)
            ).rowcount
            return Forgotten(codes=codes, refresh_tokens=tokens)

        return await self._db.write(job)

    async def drop_refresh_tokens(self, grant_id: str) -> int:
        """Delete by the grant index."""
        sql = "DELETE FROM oauth_refresh_tokens WHERE grant_id = ?"
        return int(await self._db.write(lambda c: c.execute(sql, (grant_id,)).rowcount))
