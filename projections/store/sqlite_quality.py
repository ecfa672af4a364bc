"""SQLite QualityStore: table `marketplace_quality`, one row per (reason, statement) item.

A batch of issues is one upsert job of the writer (`ON CONFLICT DO UPDATE ... WHERE state !=
'dismissed'`: a dismissed item keeps its state, an open or resolved one is opened again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import orjson

from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.kept_json import kept_json
from projections.store.quality import DISMISSED, OPEN, RESOLVED, QualityIssue, QualityItem
from projections.store.sqlite import chunks, marks

QUALITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS marketplace_quality (
    item_id TEXT PRIMARY KEY,
    statement_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    field TEXT NOT NULL,
    value BLOB NOT NULL,
    member_id TEXT,
    activity_id TEXT,
    state TEXT NOT NULL,
    mapping_version TEXT NOT NULL,
    first_seen_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS marketplace_quality_statement ON marketplace_quality(statement_id);
CREATE INDEX IF NOT EXISTS marketplace_quality_state ON marketplace_quality(state, item_id);
"""

# `+state`: found by the statement index. Left to itself SQLite took the state index and
# walked every open item for each chunk of statements (a second per thousand voids once the
# queue held 200,000 items).
OPEN_ITEMS_OF_STATEMENTS = (
    "SELECT item_id, reason FROM marketplace_quality WHERE +state = ? AND statement_id IN ({})"
)
_COLUMNS = (
    "item_id, statement_id, reason, field, value, member_id, activity_id, state, "
    "mapping_version, first_seen_us, last_seen_us"
)
_UPSERT = f"""
INSERT INTO marketplace_quality ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)
ON CONFLICT(item_id) DO UPDATE SET
    field = excluded.field, value = excluded.value, member_id = excluded.member_id,
    activity_id = excluded.activity_id, state = 'open',
    mapping_version = excluded.mapping_version, last_seen_us = excluded.last_seen_us
WHERE marketplace_quality.state != 'dismissed'
"""


def _item(row: tuple[Any, ...]) -> QualityItem:
    _id, sid, reason, field, value, member, activity, state, version, first, last = row
    issue = QualityIssue(sid, reason, field, orjson.loads(value), member, activity)
    return QualityItem(issue, state, version, first, last)


class SQLiteQualityStore:
    """The data-quality queue in one table of the core's SQLite file."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(QUALITY_SCHEMA)

    async def record_issues(
        self, issues: Sequence[QualityIssue], mapping_version: str, now_us: int
    ) -> None:
        """One upsert per issue, all in one writer job."""
        if not issues:
            return
        rows = [
            (
                i.item_id,
                i.statement_id,
                i.reason,
                i.field,
                kept_json(i.value),
                i.member_id,
                i.activity_id,
                mapping_version,
                now_us,
                now_us,
            )
            for i in issues
        ]
        await self._db.write(lambda c: c.executemany(_UPSERT, rows))

    async def resolve_issues(
        self,
        statement_ids: Sequence[str],
        keep: Collection[str],
        now_us: int,
        *,
        reasons: Collection[str] | None = None,
    ) -> int:
        """Open items of the statements not kept → resolved."""
        if not statement_ids:
            return 0
        kept = set(keep)

        def job(conn: sqlite3.Connection) -> int:
            resolved = 0
            for part in chunks(list(statement_ids)):
                sql = OPEN_ITEMS_OF_STATEMENTS.format(marks(len(part)))
                found = conn.execute(sql, (OPEN, *part)).fetchall()
                gone = [i for i, r in found if i not in kept and (reasons is None or r in reasons)]
                for ids in chunks(gone):
                    sql = (
                        "UPDATE marketplace_quality SET state = ?, last_seen_us = ? "
                        f"WHERE item_id IN ({marks(len(ids))})"
                    )
                    resolved += conn.execute(sql, (RESOLVED, now_us, *ids)).rowcount
            return resolved

        return await self._db.write(job)

    async def get_item(self, item_id: str) -> QualityItem | None:
        """One item."""
        sql = f"SELECT {_COLUMNS} FROM marketplace_quality WHERE item_id = ?"
        row = await self._db.read(lambda c: c.execute(sql, (item_id,)).fetchone())
        return _item(row) if row else None

    async def list_items(
        self,
        state: str | None = OPEN,
        *,
        reason: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[QualityItem]:
        """A page by item id."""
        where, params = ["item_id > ?"], [after or ""]
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        sql = (
            f"SELECT {_COLUMNS} FROM marketplace_quality WHERE {' AND '.join(where)} "
            "ORDER BY item_id LIMIT ?"
        )
        rows = await self._db.read(lambda c: c.execute(sql, (*params, limit)).fetchall())
        return [_item(r) for r in rows]

    async def set_state(self, item_ids: Sequence[str], state: str, now_us: int) -> int:
        """Open or dismissed items → `state`."""

        def job(conn: sqlite3.Connection) -> int:
            moved = 0
            for ids in chunks(list(item_ids)):
                sql = (
                    "UPDATE marketplace_quality SET state = ?, last_seen_us = ? "
                    f"WHERE item_id IN ({marks(len(ids))}) AND state IN (?, ?) AND state != ?"
                )
                params = (state, now_us, *ids, OPEN, DISMISSED, state)
                moved += conn.execute(sql, params).rowcount
            return moved

        return await self._db.write(job)

    async def reason_counts(self, state: str = OPEN) -> dict[str, int]:
        """Items per reason."""
        sql = (
            "SELECT reason, COUNT(*) FROM marketplace_quality WHERE state = ? "
            "GROUP BY reason ORDER BY reason"
        )
        rows = await self._db.read(lambda c: c.execute(sql, (state,)).fetchall())
        return {reason: count for reason, count in rows}

    async def forget_items(self, statement_ids: Sequence[str], member_id: str) -> int:
        """One writer job: by member, then by statement id in chunks."""

        def job(conn: sqlite3.Connection) -> int:
            sql = "DELETE FROM marketplace_quality WHERE member_id = ?"
            gone = conn.execute(sql, (member_id,)).rowcount
            for ids in chunks(list(statement_ids)):
                sql = f"DELETE FROM marketplace_quality WHERE statement_id IN ({marks(len(ids))})"
                gone += conn.execute(sql, ids).rowcount
            return gone

        return await self._db.write(job)
