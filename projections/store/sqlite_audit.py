"""SQLite AuditStore: the hash-chained audit log in `audit_log`, keyed by sequence number.

Every write of the engine runs in one `BEGIN IMMEDIATE` transaction of one writer, and two
processes on the same file take turns at SQLite's write lock, so an insert at a sequence number
another writer took first fails on the primary key and is answered `SEQ_TAKEN`.

The unchained log of earlier versions (`marketplace_audit`) is read as legacy lines until the
audit service has moved them into the chain; the table is dropped once empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.audit import (
    AuditRecord,
    Inserted,
    LegacyAuditEntry,
    dump_object,
    load_object,
    load_optional,
)

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    origin TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_log_type ON audit_log (type, seq);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_us);
"""

LEGACY_TABLE = "marketplace_audit"
_COLUMNS = "seq, at_us, type, actor, subject, details, before, after, prev_hash, hash"
_QMARKS = ", ".join("?" * 11)  # the columns and origin


def _record(row: Sequence[Any]) -> AuditRecord:
    seq, at_us, type_, actor, subject, details, before, after, prev_hash, hash_ = row
    return AuditRecord(
        seq,
        at_us,
        type_,
        actor,
        subject,
        load_object(details),
        load_optional(before),
        load_optional(after),
        prev_hash,
        hash_,
    )


def _row(record: AuditRecord) -> tuple[Any, ...]:
    return (
        record.seq,
        record.at_us,
        record.type,
        record.actor,
        record.subject,
        dump_object(record.details),
        dump_object(record.before),
        dump_object(record.after),
        record.prev_hash,
        record.hash,
    )


def _insert(conn: sqlite3.Connection, row: tuple[Any, ...]) -> bool:
    """Insert unless the sequence number is taken (checked in the writer's transaction, so
    no other writer comes between; any other refusal of the row is an error, not an answer)."""
    if conn.execute("SELECT 1 FROM audit_log WHERE seq = ?", (row[0],)).fetchone() is not None:
        return False
    conn.execute(f"INSERT INTO audit_log ({_COLUMNS}, origin) VALUES ({_QMARKS})", row)
    return True


def _has_legacy(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(sql, (LEGACY_TABLE,)).fetchone() is not None


class SQLiteAuditStore:
    """The audit chain in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(AUDIT_SCHEMA)

    async def head(self) -> AuditRecord | None:
        """The newest entry."""
        sql = f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"

        def job(conn: sqlite3.Connection) -> AuditRecord | None:
            row = conn.execute(sql).fetchone()
            return _record(row) if row else None

        return await self._db.read(job)

    async def insert(self, record: AuditRecord, *, origin: str | None = None) -> Inserted:
        """Insert at `record.seq` unless it (or `origin`) is taken."""
        row = (*_row(record), origin)

        def job(conn: sqlite3.Connection) -> Inserted:
            if origin is not None:
                found = conn.execute("SELECT 1 FROM audit_log WHERE origin = ?", (origin,))
                if found.fetchone() is not None:
                    return Inserted.ORIGIN_EXISTS
            return Inserted.DONE if _insert(conn, row) else Inserted.SEQ_TAKEN

        return await self._db.write(job)

    async def insert_run(self, records: Sequence[AuditRecord]) -> int:
        """Insert in order, in one transaction, up to the first taken sequence number."""
        rows = [(*_row(r), None) for r in records]

        def job(conn: sqlite3.Connection) -> int:
            for count, row in enumerate(rows):
                if not _insert(conn, row):
                    return count
            return len(rows)

        return await self._db.write(job)

    async def newest(
        self,
        *,
        limit: int,
        before_seq: int | None = None,
        since_us: int | None = None,
        type: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first, filtered."""
        where, args = ["1 = 1"], []
        for clause, value in (
            ("seq < ?", before_seq),
            ("at_us >= ?", since_us),
            ("type = ?", type),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} "
        sql += "ORDER BY seq DESC LIMIT ?"
        return await self._db.read(lambda c: [_record(r) for r in c.execute(sql, (*args, limit))])

    async def chain(self, after_seq: int, limit: int) -> list[AuditRecord]:
        """In sequence order."""
        sql = f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"
        return await self._db.read(
            lambda c: [_record(r) for r in c.execute(sql, (after_seq, limit))]
        )

    async def legacy_entries(self, limit: int) -> list[LegacyAuditEntry]:
        """The oldest legacy lines."""
        sql = (
            f"SELECT seq, at_us, action, actor, subject, details FROM {LEGACY_TABLE} "
            "ORDER BY seq LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> list[LegacyAuditEntry]:
            if not _has_legacy(conn):
                return []
            return [
                LegacyAuditEntry(str(seq), at, action, actor, subject, load_object(details))
                for seq, at, action, actor, subject, details in conn.execute(sql, (limit,))
            ]

        return await self._db.read(job)

    async def forget_legacy(self, legacy_ids: Sequence[str]) -> None:
        """Delete the lines; drop the table once it is empty."""
        seqs = [(int(i),) for i in legacy_ids]

        def job(conn: sqlite3.Connection) -> None:
            if not _has_legacy(conn):
                return
            conn.executemany(f"DELETE FROM {LEGACY_TABLE} WHERE seq = ?", seqs)
            if conn.execute(f"SELECT 1 FROM {LEGACY_TABLE} LIMIT 1").fetchone() is None:
                conn.execute(f"DROP TABLE {LEGACY_TABLE}")

        await self._db.write(job)
