"""LTI 1.1 outcomes on the LRS's SQLite database (table `lti_outcomes`, created when the store
is built)."""

from __future__ import annotations

import sqlite3

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from lti.store.base import OutcomeRecord, ordered_unique

OUTCOMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_outcomes (
    consumer_key TEXT NOT NULL,
    resource_link_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    score REAL NOT NULL,
    message_id TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    statement_ids BLOB NOT NULL,
    PRIMARY KEY (consumer_key, resource_link_id, user_id)
) WITHOUT ROWID;
"""


class SQLiteOutcomeStore:
    """LTI 1.1 results, one row per consumer, resource link and user."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(OUTCOMES_SCHEMA)

    async def get_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str
    ) -> OutcomeRecord | None:
        """The current result."""

        def job(conn: sqlite3.Connection) -> OutcomeRecord | None:
            return _outcome_row(conn, consumer_key, resource_link_id, user_id)

        return await self._db.read(job)

    async def put_outcome(self, record: OutcomeRecord) -> OutcomeRecord:
        """Make `record` current, keeping every statement id seen for this result."""

        def job(conn: sqlite3.Connection) -> OutcomeRecord:
            key = (record.consumer_key, record.resource_link_id, record.user_id)
            old = _outcome_row(conn, *key)
            ids = ordered_unique((*(old.statement_ids if old else ()), *record.statement_ids))
            conn.execute(
                "INSERT OR REPLACE INTO lti_outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, record.score, record.message_id, record.received_us, orjson.dumps(ids)),
            )
            stored = _outcome_row(conn, *key)
            assert stored is not None
            return stored

        return await self._db.write(job)

    async def delete_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str, received_us: int
    ) -> bool:
        """Delete the result if unchanged since read."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM lti_outcomes WHERE consumer_key = ? AND resource_link_id = ? "
                "AND user_id = ? AND received_us = ?",
                (consumer_key, resource_link_id, user_id, received_us),
            )
            return cur.rowcount == 1

        return await self._db.write(job)


def _outcome_row(
    conn: sqlite3.Connection, consumer_key: str, resource_link_id: str, user_id: str
) -> OutcomeRecord | None:
    row = conn.execute(
        "SELECT score, message_id, received_us, statement_ids FROM lti_outcomes "
        "WHERE consumer_key = ? AND resource_link_id = ? AND user_id = ?",
        (consumer_key, resource_link_id, user_id),
    ).fetchone()
    if row is None:
        return None
    score, message_id, received_us, statement_ids = row
    return OutcomeRecord(
        consumer_key=consumer_key,
        resource_link_id=resource_link_id,
        user_id=user_id,
        score=score,
        message_id=message_id,
        received_us=received_us,
        statement_ids=tuple(orjson.loads(statement_ids)),
    )
