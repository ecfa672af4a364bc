"""The LTI stores on the LRS's SQLite database (tables `lti_*`, created when each store is built):
the platform key, registrations and one-time values here; the gradebook in `sqlite_gradebook`,
LTI 1.1 outcomes in `sqlite_outcomes`.

Every write runs as a job of the database's single writer, so each read-check-write below is
atomic with respect to every other process and request.
"""

from __future__ import annotations

import sqlite3
import time

import orjson

from lrs.errors import Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from lti.store.base import Consumer, PlatformKey, Tool
from lti.store.codec import consumer_doc, consumer_from_doc, tool_doc, tool_from_doc

PLATFORM_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_platform_keys (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    kid TEXT NOT NULL,
    private_key_enc TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

REGISTRATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_tools (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL UNIQUE,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS lti_consumers (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    doc BLOB NOT NULL
);
"""

REPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_used_once (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lti_used_once_expiry ON lti_used_once(expires_at);
"""

_PURGE = 100  # expired one-time values removed per insert


class SQLitePlatformKeyStore:
    """The platform's signing key: one row, the first key ever added."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(PLATFORM_KEYS_SCHEMA)

    async def get_platform_key(self) -> PlatformKey | None:
        """The platform key, if made."""

        def job(conn: sqlite3.Connection) -> PlatformKey | None:
            row = conn.execute(
                "SELECT kid, private_key_enc, created_at FROM lti_platform_keys"
            ).fetchone()
            return PlatformKey(*row) if row else None

        return await self._db.read(job)

    async def add_platform_key(self, key: PlatformKey) -> PlatformKey:
        """Keep the first platform key ever added."""

        def job(conn: sqlite3.Connection) -> PlatformKey:
            conn.execute(
                "INSERT OR IGNORE INTO lti_platform_keys VALUES (1, ?, ?, ?)",
                (key.kid, key.private_key_enc, key.created_at),
            )
            row = conn.execute(
                "SELECT kid, private_key_enc, created_at FROM lti_platform_keys"
            ).fetchone()
            return PlatformKey(*row)

        return await self._db.write(job)


class SQLiteRegistrationStore:
    """Registered LTI 1.3 tools and LTI 1.1 consumers."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(REGISTRATIONS_SCHEMA)

    async def add_tool(self, tool: Tool) -> None:
        """Register a tool."""

        def job(conn: sqlite3.Connection) -> None:
            taken = conn.execute(
                "SELECT 1 FROM lti_tools WHERE id = ? OR client_id = ?", (tool.id, tool.client_id)
            ).fetchone()
            if taken:
                raise Conflict(f"a tool with id {tool.id} or client id {tool.client_id} exists")
            conn.execute(
                "INSERT INTO lti_tools (id, client_id, doc) VALUES (?, ?, ?)",
                (tool.id, tool.client_id, orjson.dumps(tool_doc(tool))),
            )

        await self._db.write(job)

    async def get_tool(self, tool_id: str) -> Tool | None:
        """The tool with this id."""
        return await self._one_tool("id", tool_id)

    async def find_tool(self, client_id: str) -> Tool | None:
        """The tool with this client id."""
        return await self._one_tool("client_id", client_id)

    async def _one_tool(self, column: str, value: str) -> Tool | None:
        def job(conn: sqlite3.Connection) -> Tool | None:
            row = conn.execute(f"SELECT doc FROM lti_tools WHERE {column} = ?", (value,))
            found = row.fetchone()
            return tool_from_doc(orjson.loads(found[0])) if found else None

        return await self._db.read(job)

    async def list_tools(self) -> list[Tool]:
        """Every tool, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Tool]:
            rows = conn.execute("SELECT doc FROM lti_tools ORDER BY seq").fetchall()
            return [tool_from_doc(orjson.loads(doc)) for (doc,) in rows]

        return await self._db.read(job)

    async def add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer key."""

        def job(conn: sqlite3.Connection) -> None:
            if conn.execute(
                "SELECT 1 FROM lti_consumers WHERE key = ?", (consumer.key,)
            ).fetchone():
                raise Conflict(f"a consumer with key {consumer.key} exists")
            conn.execute(
                "INSERT INTO lti_consumers (key, doc) VALUES (?, ?)",
                (consumer.key, orjson.dumps(consumer_doc(consumer))),
            )

        await self._db.write(job)

    async def get_consumer(self, key: str) -> Consumer | None:
        """The consumer with this key."""

        def job(conn: sqlite3.Connection) -> Consumer | None:
            row = conn.execute("SELECT doc FROM lti_consumers WHERE key = ?", (key,)).fetchone()
            return consumer_from_doc(orjson.loads(row[0])) if row else None

        return await self._db.read(job)

    async def list_consumers(self) -> list[Consumer]:
        """Every consumer, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Consumer]:
            rows = conn.execute("SELECT doc FROM lti_consumers ORDER BY seq").fetchall()
            return [consumer_from_doc(orjson.loads(doc)) for (doc,) in rows]

        return await self._db.read(job)

    async def disable_tool(self, tool_id: str, at: str) -> bool:
        """Set the tool's `disabled_at` in its document (unless set)."""
        return await self._disable("lti_tools", "id", tool_id, at)

    async def disable_consumer(self, key: str, at: str) -> bool:
        """Set the consumer's `disabled_at` in its document (unless set)."""
        return await self._disable("lti_consumers", "key", key, at)

    async def _disable(self, table: str, column: str, value: str, at: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(f"SELECT doc FROM {table} WHERE {column} = ?", (value,)).fetchone()
            if row is None:
                return False
            doc = orjson.loads(row[0])
            if not doc.get("disabled_at"):
                doc["disabled_at"] = at
                conn.execute(
                    f"UPDATE {table} SET doc = ? WHERE {column} = ?", (orjson.dumps(doc), value)
                )
            return True

        return await self._db.write(job)


class SQLiteReplayStore:
    """One-time values until they expire (expired ones purged a few per insert)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(REPLAY_SCHEMA)

    async def use_once(self, key: str, expires_at: int) -> bool:
        """Record a one-time value; False when it is already recorded and not expired."""

        def job(conn: sqlite3.Connection) -> bool:
            now = int(time.time())
            conn.execute(
                "DELETE FROM lti_used_once WHERE key IN (SELECT key FROM lti_used_once "
                "WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
                (now, _PURGE),
            )
            conn.execute("DELETE FROM lti_used_once WHERE key = ? AND expires_at < ?", (key, now))
            cur = conn.execute(
                "INSERT OR IGNORE INTO lti_used_once VALUES (?, ?)", (key, expires_at)
            )
            return cur.rowcount == 1

        return await self._db.write(job)
