"""SQLite PseudonymKeyStore: the pseudonym key versions, one row each (no key material)."""

from __future__ import annotations

import sqlite3

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import PseudonymKey

PSEUDONYM_SCHEMA = """
CREATE TABLE IF NOT EXISTS marketplace_pseudonym_keys (
    version INTEGER PRIMARY KEY,
    created_us INTEGER NOT NULL
);
"""


class SQLitePseudonymKeyStore:
    """Key versions in one small table."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(PSEUDONYM_SCHEMA)

    async def add_pseudonym_key(self, key: PseudonymKey) -> bool:
        """Insert the version unless it is there (one writer: no race)."""

        def job(conn: sqlite3.Connection) -> bool:
            sql = "INSERT OR IGNORE INTO marketplace_pseudonym_keys VALUES (?, ?)"
            return conn.execute(sql, (key.version, key.created_us)).rowcount == 1

        return await self._db.write(job)

    async def pseudonym_keys(self) -> list[PseudonymKey]:
        """Oldest first."""
        sql = "SELECT version, created_us FROM marketplace_pseudonym_keys ORDER BY version"
        return await self._db.read(lambda c: [PseudonymKey(v, at) for v, at in c.execute(sql)])
