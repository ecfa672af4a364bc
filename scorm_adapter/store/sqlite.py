"""SQLite implementation of the AttemptStore: one row per attempt in `scorm_attempts`.

Writes run in the LRS's single writer thread (`SQLiteDatabase.write`), each in its own
savepoint; the compare-and-set is `UPDATE ... WHERE attempt_id = ? AND revision = ?`.
"""

from __future__ import annotations

import sqlite3

from lrs.store.engine.sqlite import SQLiteDatabase
from scorm_adapter.store.base import AttemptRecord

ATTEMPTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS scorm_attempts (
    attempt_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    state BLOB NOT NULL,
    updated_us INTEGER NOT NULL
);
"""


class SQLiteAttemptStore:
    """Per-attempt SCORM state in the LRS's SQLite file."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(ATTEMPTS_SCHEMA)

    async def create_attempt(self, record: AttemptRecord) -> bool:
        """Insert the record unless its id exists."""

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO scorm_attempts (attempt_id, revision, state, updated_us) "
                "VALUES (?, ?, ?, ?)",
                (record.attempt_id, record.revision, record.state, record.updated_us),
            )
            return cursor.rowcount == 1

        return await self._db.write(job)

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        """The record, or None."""

        def job(conn: sqlite3.Connection) -> AttemptRecord | None:
            row = conn.execute(
                "SELECT revision, state, updated_us FROM scorm_attempts WHERE attempt_id = ?",
                (attempt_id,),
            ).fetchone()
            if row is None:
                return None
            return AttemptRecord(attempt_id, int(row[0]), bytes(row[1]), int(row[2]))

        return await self._db.read(job)

    async def replace_attempt(self, record: AttemptRecord, *, expected_revision: int) -> bool:
        """Compare-and-set on the revision."""

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE scorm_attempts SET revision = ?, state = ?, updated_us = ? "
                "WHERE attempt_id = ? AND revision = ?",
                (
                    record.revision,
                    record.state,
                    record.updated_us,
                    record.attempt_id,
                    expected_revision,
                ),
            )
            return cursor.rowcount == 1

        return await self._db.write(job)
