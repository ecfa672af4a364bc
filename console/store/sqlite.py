"""SQLite console stores: `console_operators`, `console_links`, `console_sessions`.

A link is consumed by one `DELETE ... RETURNING` in the writer's transaction, so of two
requests presenting it at the same moment exactly one gets the name.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from console.store.base import Operator, Session
from lrs.store.engine.sqlite import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_operators (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS console_links (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_links_name ON console_links (name);
CREATE TABLE IF NOT EXISTS console_sessions (
    id_hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    seen_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_operator ON console_sessions (operator);
"""
_OPERATOR = "name, role, created_us, password_hash, disabled"
_SESSION = "id_hash, operator, created_us, seen_us, expires_us"


def _operator(row: Any) -> Operator:
    name, role, created_us, password_hash, disabled = row
    return Operator(name, role, created_us, password_hash, bool(disabled))


class SQLiteOperatorStore:
    """Operator accounts and set-password links in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(SCHEMA)

    async def add_operator(self, operator: Operator) -> bool:
        """Insert unless the name is taken."""
        row = (
            operator.name,
            operator.role,
            operator.created_us,
            operator.password_hash,
            int(operator.disabled),
        )
        sql = f"INSERT OR IGNORE INTO console_operators ({_OPERATOR}) VALUES (?, ?, ?, ?, ?)"
        return await self._db.write(lambda c: c.execute(sql, row).rowcount == 1)

    async def get_operator(self, name: str) -> Operator | None:
        """By name."""
        sql = f"SELECT {_OPERATOR} FROM console_operators WHERE name = ?"

        def job(conn: sqlite3.Connection) -> Operator | None:
            row = conn.execute(sql, (name,)).fetchone()
            return _operator(row) if row else None

        return await self._db.read(job)

    async def list_operators(self) -> list[Operator]:
        """All, by name."""
        sql = f"SELECT {_OPERATOR} FROM console_operators ORDER BY name"
        return await self._db.read(lambda c: [_operator(r) for r in c.execute(sql)])

    async def set_password(self, name: str, password_hash: str | None) -> bool:
        """Replace the hash."""
        sql = "UPDATE console_operators SET password_hash = ? WHERE name = ?"
        return await self._db.write(lambda c: c.execute(sql, (password_hash, name)).rowcount == 1)

    async def set_disabled(self, name: str, disabled: bool) -> bool:
        """Flip the flag."""
        sql = "UPDATE console_operators SET disabled = ? WHERE name = ?"
        return await self._db.write(lambda c: c.execute(sql, (int(disabled), name)).rowcount == 1)

    async def add_link(self, token_hash: str, name: str, expires_us: int) -> None:
        """Replace the operator's links with this one."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM console_links WHERE name = ?", (name,))
            conn.execute(
                "INSERT INTO console_links (token_hash, name, expires_us) VALUES (?, ?, ?)",
                (token_hash, name, expires_us),
            )

        await self._db.write(job)

    async def take_link(self, token_hash: str, now_us: int) -> str | None:
        """Delete the link; its name if it was still valid."""
        sql = "DELETE FROM console_links WHERE token_hash = ? RETURNING name, expires_us"

        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(sql, (token_hash,)).fetchone()
            return row[0] if row is not None and row[1] > now_us else None

        return await self._db.write(job)


class SQLiteSessionStore:
    """Console sessions in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(SCHEMA)

    async def add_session(self, session: Session) -> None:
        """Insert."""
        row = (
            session.id_hash,
            session.operator,
            session.created_us,
            session.seen_us,
            session.expires_us,
        )
        sql = f"INSERT INTO console_sessions ({_SESSION}) VALUES (?, ?, ?, ?, ?)"
        await self._db.write(lambda c: c.execute(sql, row))

    async def get_session(self, id_hash: str) -> Session | None:
        """By id hash."""
        sql = f"SELECT {_SESSION} FROM console_sessions WHERE id_hash = ?"

        def job(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute(sql, (id_hash,)).fetchone()
            return Session(*row) if row else None

        return await self._db.read(job)

    async def touch_session(self, id_hash: str, seen_us: int) -> None:
        """Move seen_us forward."""
        sql = "UPDATE console_sessions SET seen_us = max(seen_us, ?) WHERE id_hash = ?"
        await self._db.write(lambda c: c.execute(sql, (seen_us, id_hash)))

    async def drop_session(self, id_hash: str) -> None:
        """Delete one."""
        sql = "DELETE FROM console_sessions WHERE id_hash = ?"
        await self._db.write(lambda c: c.execute(sql, (id_hash,)))

    async def drop_sessions_of(self, name: str) -> int:
        """Delete an operator's."""
        sql = "DELETE FROM console_sessions WHERE operator = ?"
        return await self._db.write(lambda c: c.execute(sql, (name,)).rowcount)

    async def drop_expired(self, now_us: int, idle_before_us: int) -> int:
        """Delete the expired and the idle."""
        sql = "DELETE FROM console_sessions WHERE expires_us <= ? OR seen_us <= ?"
        return await self._db.write(lambda c: c.execute(sql, (now_us, idle_before_us)).rowcount)
