"""SQLite AuditStore: the hash-chained audit log in `audit_log`, keyed by sequence number.

Every write of the engine runs in one `BEGIN IMMEDIATE` transaction of one writer, and two
processes on the same file take turns at SQLite's write lock, so an insert at a sequence number
another writer took first fails on the primary key and is answered `SEQ_TAKEN`.

The unchained log of earlier versions (`marketplace_audit`) is read as legacy lines until the
audit service has moved them into the chain; the table is dropped once empty.

Personal parts live in `audit_personal` (by holder, for erasure); an entry's part ids and its
`clear` flag in `audit_protection`, written in the entry's transaction (a side table, so
that the log's table is the same as before parts existed).
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
    PersonalPart,
    dump_object,
    load_object,
    load_optional,
)
from projections.store.sqlite import chunks, marks

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
CREATE TABLE IF NOT EXISTS audit_protection (
    seq INTEGER PRIMARY KEY,
    personal TEXT NOT NULL,
    clear INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_personal (
    pid TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    salt TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_personal_holder ON audit_personal (holder);
CREATE TABLE IF NOT EXISTS audit_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

LEGACY_TABLE = "marketplace_audit"
_COLUMNS = "seq, at_us, type, actor, subject, details, before, after, prev_hash, hash"
_QMARKS = ", ".join("?" * 11)  # the columns and origin
_SELECT = (
    "SELECT a.seq, a.at_us, a.type, a.actor, a.subject, a.details, a.before, a.after, "
    "a.prev_hash, a.hash, p.personal, p.clear "
    "FROM audit_log a LEFT JOIN audit_protection p ON p.seq = a.seq"
)
_PROTECTED = "protected_through"


def _record(row: Sequence[Any]) -> AuditRecord:
    seq, at_us, type_, actor, subject, details, before, after, prev_hash, hash_ = row[:10]
    personal, clear = row[10:] if len(row) > 10 else (None, 0)
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
        load_optional(personal),
        bool(clear),
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


def _insert(conn: sqlite3.Connection, row: tuple[Any, ...], personal: str | None) -> bool:
    """Insert unless the sequence number is taken (checked in the writer's transaction, so
    no other writer comes between; any other refusal of the row is an error, not an answer)."""
    if conn.execute("SELECT 1 FROM audit_log WHERE seq = ?", (row[0],)).fetchone() is not None:
        return False
    conn.execute(f"INSERT INTO audit_log ({_COLUMNS}, origin) VALUES ({_QMARKS})", row)
    if personal is not None:
        sql = "INSERT OR REPLACE INTO audit_protection (seq, personal, clear) VALUES (?, ?, 0)"
        conn.execute(sql, (row[0], personal))
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
        sql = f"{_SELECT} ORDER BY a.seq DESC LIMIT 1"

        def job(conn: sqlite3.Connection) -> AuditRecord | None:
            row = conn.execute(sql).fetchone()
            return _record(row) if row else None

        return await self._db.read(job)

    async def insert(self, record: AuditRecord, *, origin: str | None = None) -> Inserted:
        """Insert at `record.seq` unless it (or `origin`) is taken."""
        row, personal = (*_row(record), origin), dump_object(record.personal)

        def job(conn: sqlite3.Connection) -> Inserted:
            if origin is not None:
                found = conn.execute("SELECT 1 FROM audit_log WHERE origin = ?", (origin,))
                if found.fetchone() is not None:
                    return Inserted.ORIGIN_EXISTS
            return Inserted.DONE if _insert(conn, row, personal) else Inserted.SEQ_TAKEN

        return await self._db.write(job)

    async def insert_run(
        self, records: Sequence[AuditRecord], parts: Sequence[PersonalPart] = ()
    ) -> int:
        """Insert the parts, then the records in order up to the first taken sequence
        number: one transaction."""
        rows = [((*_row(r), None), dump_object(r.personal)) for r in records]
        part_rows = _part_rows(parts)

        def job(conn: sqlite3.Connection) -> int:
            conn.executemany(_PUT_PART, part_rows)
            for count, (row, personal) in enumerate(rows):
                if not _insert(conn, row, personal):
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
            ("a.seq < ?", before_seq),
            ("a.at_us >= ?", since_us),
            ("a.type = ?", type),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY a.seq DESC LIMIT ?"
        return await self._db.read(lambda c: [_record(r) for r in c.execute(sql, (*args, limit))])

    async def chain(self, after_seq: int, limit: int) -> list[AuditRecord]:
        """In sequence order."""
        sql = f"{_SELECT} WHERE a.seq > ? ORDER BY a.seq LIMIT ?"
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

    async def put_parts(self, parts: Sequence[PersonalPart]) -> None:
        """Insert or replace."""
        rows = _part_rows(parts)
        if rows:
            await self._db.write(lambda c: c.executemany(_PUT_PART, rows))

    async def parts(self, pids: Sequence[str]) -> dict[str, PersonalPart]:
        """By id, the stored ones."""

        def job(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
            found: list[tuple[str, str, str, str]] = []
            for part in chunks(list(dict.fromkeys(pids))):
                sql = "SELECT pid, holder, salt, data FROM audit_personal "
                sql += f"WHERE pid IN ({marks(len(part))})"
                found += conn.execute(sql, part).fetchall()
            return found

        rows = await self._db.read(job) if pids else []
        return {r[0]: PersonalPart(r[0], r[1], r[2], _values(r[3])) for r in rows}

    async def erase_parts(self, holders: Sequence[str]) -> int:
        """Delete by holder."""

        def job(conn: sqlite3.Connection) -> int:
            deleted = 0
            for part in chunks(list(dict.fromkeys(holders))):
                sql = f"DELETE FROM audit_personal WHERE holder IN ({marks(len(part))})"
                deleted += conn.execute(sql, part).rowcount
            return deleted

        return await self._db.write(job) if holders else 0

    async def protect(self, record: AuditRecord) -> bool:
        """Rewrite an entry without parts (one transaction: the content and its part ids)."""
        row = (
            record.subject,
            dump_object(record.details),
            dump_object(record.before),
            dump_object(record.after),
            record.seq,
        )
        personal = (record.seq, dump_object(record.personal), int(record.clear))

        def job(conn: sqlite3.Connection) -> bool:
            found = conn.execute("SELECT 1 FROM audit_protection WHERE seq = ?", (record.seq,))
            if found.fetchone() is not None:
                return False
            sql = (
                "UPDATE audit_log SET subject = ?, details = ?, before = ?, after = ? WHERE seq = ?"
            )
            conn.execute(sql, row)
            conn.execute(
                "INSERT INTO audit_protection (seq, personal, clear) VALUES (?, ?, ?)", personal
            )
            return True

        return await self._db.write(job)

    async def protected_through(self) -> int:
        """From `audit_state`."""
        sql = "SELECT value FROM audit_state WHERE key = ?"
        row = await self._db.read(lambda c: c.execute(sql, (_PROTECTED,)).fetchone())
        return int(row[0]) if row else 0

    async def set_protected_through(self, seq: int) -> None:
        """Never lowered."""
        sql = (
            "INSERT INTO audit_state (key, value) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = max(value, excluded.value)"
        )
        await self._db.write(lambda c: c.execute(sql, (_PROTECTED, seq)))


_PUT_PART = "INSERT OR REPLACE INTO audit_personal (pid, holder, salt, data) VALUES (?, ?, ?, ?)"


def _part_rows(parts: Sequence[PersonalPart]) -> list[tuple[str, str, str, str | None]]:
    return [(p.pid, p.holder, p.salt, dump_object(p.values)) for p in parts]


def _values(text: str) -> dict[str, str]:
    value = load_object(text)
    return {str(k): str(v) for k, v in value.items()}
