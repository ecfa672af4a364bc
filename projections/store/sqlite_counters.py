"""SQLite CounterStore: table `marketplace_counters`, one row per (name, series), incremented
by upsert in one write."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.counters import CounterKey

COUNTERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS marketplace_counters (
    name TEXT NOT NULL,
    series TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (name, series)
);
"""


class SQLiteCounterStore:
    """Counters in one small table."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(COUNTERS_SCHEMA)

    async def add(self, increments: Mapping[CounterKey, float]) -> None:
        """One write for every increment."""
        rows = [(name, series, amount) for (name, series), amount in increments.items()]
        if not rows:
            return
        sql = (
            "INSERT INTO marketplace_counters (name, series, value) VALUES (?, ?, ?) "
            "ON CONFLICT (name, series) DO UPDATE SET value = value + excluded.value"
        )

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(sql, rows)

        await self._db.write(job)

    async def counters(self, prefix: str = "") -> dict[CounterKey, float]:
        """By name prefix (a range of the primary key)."""
        sql = "SELECT name, series, value FROM marketplace_counters WHERE name >= ? AND name < ?"
        bounds = (prefix, prefix + "\uffff")
        rows = await self._db.read(lambda c: c.execute(sql, bounds).fetchall())
        return {(name, series): value for name, series, value in rows}
