"""SQLite HrisStore: `hris_sources`, `hris_signatures` (until their replay window closes) and
`hris_events` (one row per (source, event id), first insert wins)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.hris import HrisEventRecord, HrisSource
from projections.store.sqlite import chunks, marks

HRIS_SCHEMA = """
CREATE TABLE IF NOT EXISTS hris_sources (
    name TEXT PRIMARY KEY,
    salt TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS hris_signatures (key TEXT PRIMARY KEY, expires_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hris_signatures_expiry ON hris_signatures(expires_us);
CREATE TABLE IF NOT EXISTS hris_events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    received_at TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (source, event_id)
);
"""

_SOURCE_COLUMNS = "name, salt, created_at, rotated_at, revoked_at"


class SQLiteHrisStore:
    """HRIS sources, signatures and events in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(HRIS_SCHEMA)

    async def add_source(self, source: HrisSource) -> bool:
        """Insert unless the name is taken."""
        sql = f"INSERT OR IGNORE INTO hris_sources ({_SOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        row = _source_row(source)
        return await self._db.write(lambda c: c.execute(sql, row).rowcount == 1)

    async def put_source(self, source: HrisSource) -> None:
        """Insert or replace."""
        sql = f"INSERT OR REPLACE INTO hris_sources ({_SOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        row = _source_row(source)
        await self._db.write(lambda c: c.execute(sql, row))

    async def get_source(self, name: str) -> HrisSource | None:
        """One source."""
        sql = f"SELECT {_SOURCE_COLUMNS} FROM hris_sources WHERE name = ?"
        row = await self._db.read(lambda c: c.execute(sql, (name,)).fetchone())
        return HrisSource(*row) if row else None

    async def list_sources(self) -> list[HrisSource]:
        """Every source, by name."""
        sql = f"SELECT {_SOURCE_COLUMNS} FROM hris_sources ORDER BY name"
        rows = await self._db.read(lambda c: c.execute(sql).fetchall())
        return [HrisSource(*r) for r in rows]

    async def note_signature(self, key: str, expires_us: int, now_us: int) -> bool:
        """Insert unless seen; expired signatures are deleted in the same write."""

        def job(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM hris_signatures WHERE expires_us < ?", (now_us,))
            sql = "INSERT OR IGNORE INTO hris_signatures (key, expires_us) VALUES (?, ?)"
            return conn.execute(sql, (key, expires_us)).rowcount == 1

        return await self._db.write(job)

    async def get_events(self, source: str, event_ids: Sequence[str]) -> dict[str, HrisEventRecord]:
        """Events received before, by id."""

        def job(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, str]]:
            found: list[tuple[str, str, str, str, str]] = []
            for part in chunks(list(dict.fromkeys(event_ids))):
                sql = (
                    "SELECT source, event_id, digest, received_at, result FROM hris_events "
                    f"WHERE source = ? AND event_id IN ({marks(len(part))})"
                )
                found += conn.execute(sql, (source, *part)).fetchall()
            return found

        rows = await self._db.read(job) if event_ids else []
        return {r[1]: _event(r) for r in rows}

    async def save_event(self, record: HrisEventRecord) -> HrisEventRecord:
        """Insert unless saved; the saved one."""
        row = (
            record.source,
            record.event_id,
            record.digest,
            record.received_at,
            orjson.dumps(record.result).decode(),
        )

        def job(conn: sqlite3.Connection) -> tuple[str, str, str, str, str]:
            conn.execute("INSERT OR IGNORE INTO hris_events VALUES (?, ?, ?, ?, ?)", row)
            return conn.execute(
                "SELECT source, event_id, digest, received_at, result FROM hris_events "
                "WHERE source = ? AND event_id = ?",
                row[:2],
            ).fetchone()

        return _event(await self._db.write(job))

    async def forget_members(self, member_ids: Sequence[str]) -> int:
        """One UPDATE per chunk of ids: a scan of the events, not an index (an expression
        index on the employee id slowed every event's insert, and an erasure, rare, rewrites
        the whole file afterwards anyway)."""

        def job(conn: sqlite3.Connection) -> int:
            changed = 0
            for part in chunks(list(dict.fromkeys(member_ids))):
                sql = (
                    "UPDATE hris_events SET result = json_set(result, '$.employee_id', "
                    "json('null'), '$.erased', json('true')) "
                    f"WHERE json_extract(result, '$.employee_id') IN ({marks(len(part))})"
                )
                changed += conn.execute(sql, part).rowcount
            return changed

        return await self._db.write(job) if member_ids else 0


def _source_row(source: HrisSource) -> tuple[str | None, ...]:
    return (source.name, source.salt, source.created_at, source.rotated_at, source.revoked_at)


def _event(row: tuple[str, str, str, str, str]) -> HrisEventRecord:
    return HrisEventRecord(row[0], row[1], row[2], row[3], orjson.loads(row[4]))
