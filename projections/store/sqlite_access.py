"""SQLite AccessStore: marketplace OAuth clients, signing key ids, revoked tokens and
idempotency keys (the audit log is `sqlite_audit`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from lrs.errors import Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import ApiClient, PreviousSecret, SavedResponse, SigningKey

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS marketplace_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rate_limit_per_min INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS marketplace_client_previous_secrets (
    client_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    until_us INTEGER NOT NULL,
    PRIMARY KEY (client_id, secret_hash)
);
CREATE TABLE IF NOT EXISTS marketplace_signing_keys (
    kid TEXT PRIMARY KEY,
    created_us INTEGER NOT NULL,
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS marketplace_revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS marketplace_idempotency (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL
);
"""


# a client's row with each previous secret (or one row of NULLs): one query per read
_CLIENTS = (
    "SELECT c.client_id, c.name, c.scopes, c.secret_hash, c.created_at, c.rate_limit_per_min,"
    " c.revoked, p.secret_hash, p.until_us FROM marketplace_clients c"
    " LEFT JOIN marketplace_client_previous_secrets p ON p.client_id = c.client_id"
)


def _clients(rows: Sequence[Sequence[Any]]) -> list[ApiClient]:
    """Clients from `_CLIENTS` rows, in their order (a client's rows are consecutive)."""
    found: dict[str, ApiClient] = {}
    for client_id, name, scopes, secret_hash, created_at, rate, revoked, old, until in rows:
        client = found.get(client_id) or ApiClient(
            client_id, name, tuple(scopes.split()), secret_hash, created_at, rate, bool(revoked)
        )
        if old is not None:
            previous = (*client.previous_secrets, PreviousSecret(old, until))
            client = replace(client, previous_secrets=previous)
        found[client_id] = client
    return list(found.values())


class SQLiteAccessStore:
    """Clients, keys, revocations and idempotency in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(ACCESS_SCHEMA)

    async def add_client(self, client: ApiClient) -> None:
        """Store a new client."""
        row = (
            client.client_id,
            client.name,
            " ".join(client.scopes),
            client.secret_hash,
            client.created_at,
            client.rate_limit_per_min,
            int(client.revoked),
        )

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO marketplace_clients VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise Conflict(f"client {client.client_id} exists") from None

        await self._db.write(job)

    async def get_client(self, client_id: str) -> ApiClient | None:
        """One client."""
        sql = f"{_CLIENTS} WHERE c.client_id = ? ORDER BY p.until_us"

        def job(conn: sqlite3.Connection) -> ApiClient | None:
            found = _clients(conn.execute(sql, (client_id,)).fetchall())
            return found[0] if found else None

        return await self._db.read(job)

    async def list_clients(self) -> list[ApiClient]:
        """Every client, oldest first."""
        sql = f"{_CLIENTS} ORDER BY c.created_at, c.client_id, p.until_us"
        return await self._db.read(lambda c: _clients(c.execute(sql).fetchall()))

    async def revoke_client(self, client_id: str) -> bool:
        """Mark revoked."""
        sql = "UPDATE marketplace_clients SET revoked = 1 WHERE client_id = ?"
        return await self._db.write(lambda c: c.execute(sql, (client_id,)).rowcount > 0)

    async def replace_client_secret(
        self, client_id: str, secret_hash: str, *, previous_until_us: int, now_us: int
    ) -> bool:
        """New hash; the current one kept until `previous_until_us`; one transaction."""

        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT secret_hash FROM marketplace_clients WHERE client_id = ? AND revoked = 0",
                (client_id,),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "DELETE FROM marketplace_client_previous_secrets"
                " WHERE client_id = ? AND until_us <= ?",
                (client_id, now_us),
            )
            if previous_until_us > now_us:
                conn.execute(
                    "INSERT OR REPLACE INTO marketplace_client_previous_secrets VALUES (?, ?, ?)",
                    (client_id, row[0], previous_until_us),
                )
            conn.execute(
                "UPDATE marketplace_clients SET secret_hash = ? WHERE client_id = ?",
                (secret_hash, client_id),
            )
            return True

        return await self._db.write(job)

    async def add_signing_key(self, key: SigningKey) -> None:
        """Record a key id."""
        sql = "INSERT INTO marketplace_signing_keys VALUES (?, ?, ?)"
        await self._db.write(lambda c: c.execute(sql, (key.kid, key.created_us, int(key.retired))))

    async def signing_keys(self) -> list[SigningKey]:
        """Every key id, oldest first."""
        sql = (
            "SELECT kid, created_us, retired FROM marketplace_signing_keys ORDER BY created_us, kid"
        )
        return await self._db.read(
            lambda c: [SigningKey(k, at, bool(retired)) for k, at, retired in c.execute(sql)]
        )

    async def retire_signing_key(self, kid: str) -> bool:
        """Retire a key id."""
        sql = "UPDATE marketplace_signing_keys SET retired = 1 WHERE kid = ?"
        return await self._db.write(lambda c: c.execute(sql, (kid,)).rowcount > 0)

    async def revoke_token(self, jti: str, expires_us: int) -> None:
        """Remember a revoked token id."""
        sql = "INSERT OR REPLACE INTO marketplace_revoked_tokens VALUES (?, ?)"
        await self._db.write(lambda c: c.execute(sql, (jti, expires_us)))

    async def is_token_revoked(self, jti: str) -> bool:
        """Whether it was revoked."""
        sql = "SELECT 1 FROM marketplace_revoked_tokens WHERE jti = ?"
        return await self._db.read(lambda c: c.execute(sql, (jti,)).fetchone() is not None)

    async def any_revoked(self, ids: Sequence[str]) -> bool:
        """Whether any was revoked; one query."""
        marks = ", ".join("?" * len(ids))
        sql = f"SELECT 1 FROM marketplace_revoked_tokens WHERE jti IN ({marks}) LIMIT 1"
        return bool(ids) and await self._db.read(
            lambda c: c.execute(sql, tuple(ids)).fetchone() is not None
        )

    async def save_response(self, response: SavedResponse) -> SavedResponse:
        """First write wins."""

        def job(conn: sqlite3.Connection) -> SavedResponse:
            conn.execute(
                "INSERT OR IGNORE INTO marketplace_idempotency VALUES (?, ?, ?, ?)",
                (response.key, response.request_hash, response.status, response.body),
            )
            return _saved(conn, response.key) or response

        return await self._db.write(job)

    async def saved_response(self, key: str) -> SavedResponse | None:
        """The kept response."""
        return await self._db.read(lambda c: _saved(c, key))


def _saved(conn: sqlite3.Connection, key: str) -> SavedResponse | None:
    row = conn.execute(
        "SELECT key, request_hash, status, body FROM marketplace_idempotency WHERE key = ?", (key,)
    ).fetchone()
    return SavedResponse(row[0], row[1], row[2], bytes(row[3])) if row else None
