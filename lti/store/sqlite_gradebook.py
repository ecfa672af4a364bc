"""The LTI gradebook on the LRS's SQLite database: AGS line items and each user's last score
(tables `lti_line_items` and `lti_scores`, created when the store is built)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from lrs.errors import BadRequest, Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from lti.store.base import LineItem, LineItemFilter, Page, ScoreRecord

GRADEBOOK_SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_line_items (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tool_id TEXT NOT NULL,
    resource_link_id TEXT,
    resource_id TEXT,
    tag TEXT,
    properties BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS lti_line_items_tool ON lti_line_items(tool_id, seq);
CREATE TABLE IF NOT EXISTS lti_scores (
    line_item_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    timestamp_us INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    pending INTEGER NOT NULL,
    score BLOB NOT NULL,
    statement_ids BLOB NOT NULL,
    PRIMARY KEY (line_item_id, user_id)
) WITHOUT ROWID;
"""


class SQLiteGradebookStore:
    """AGS line items and the last score of each user on each."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(GRADEBOOK_SCHEMA)

    async def add_line_item(self, item: LineItem) -> None:
        """Store a new line item."""
        row = (item.id, item.tool_id, *_filter_columns(item), orjson.dumps(item.properties))

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO lti_line_items (id, tool_id, resource_link_id, resource_id, "
                    "tag, properties) VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:  # the id is taken (as on MongoDB: 409)
                raise Conflict(f"a line item with id {item.id} exists") from None

        await self._db.write(job)

    async def get_line_item(self, item_id: str) -> LineItem | None:
        """The line item with this id."""

        def job(conn: sqlite3.Connection) -> LineItem | None:
            found = conn.execute(
                "SELECT id, tool_id, properties FROM lti_line_items WHERE id = ?", (item_id,)
            ).fetchone()
            return _line_item(found) if found else None

        return await self._db.read(job)

    async def replace_line_item(self, item: LineItem) -> bool:
        """Replace a line item's properties."""
        row = (*_filter_columns(item), orjson.dumps(item.properties), item.id, item.tool_id)

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE lti_line_items SET resource_link_id = ?, resource_id = ?, tag = ?, "
                "properties = ? WHERE id = ? AND tool_id = ?",
                row,
            )
            return cur.rowcount == 1

        return await self._db.write(job)

    async def delete_line_item(self, item_id: str) -> bool:
        """Delete a line item and its scores."""

        def job(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM lti_scores WHERE line_item_id = ?", (item_id,))
            cur = conn.execute("DELETE FROM lti_line_items WHERE id = ?", (item_id,))
            return cur.rowcount == 1

        return await self._db.write(job)

    async def list_line_items(self, query: LineItemFilter) -> Page:
        """One page of a tool's line items, oldest first."""
        where = ["tool_id = ?"]
        params: list[Any] = [query.tool_id]
        for column in ("resource_link_id", "resource_id", "tag"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.after is not None:
            where.append("seq > ?")
            params.append(_int_position(query.after))
        params.append(query.limit + 1)
        sql = (
            "SELECT seq, id, tool_id, properties FROM lti_line_items "
            f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> Page:
            rows = conn.execute(sql, params).fetchall()
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            items = [_line_item(row[1:]) for row in rows]
            return Page(items, str(rows[-1][0]) if more and rows else None)

        return await self._db.read(job)

    async def begin_score(self, record: ScoreRecord) -> bool:
        """Accept the score when newer than the stored one (or the same pending one again)."""

        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT timestamp_us, fingerprint, pending FROM lti_scores "
                "WHERE line_item_id = ? AND user_id = ?",
                (record.line_item_id, record.user_id),
            ).fetchone()
            if row is not None:
                stored_us, fingerprint, pending = row
                retry = (
                    stored_us == record.timestamp_us
                    and pending
                    and fingerprint == record.fingerprint
                )
                if stored_us >= record.timestamp_us and not retry:
                    return False
            conn.execute(
                "INSERT OR REPLACE INTO lti_scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.line_item_id,
                    record.user_id,
                    record.timestamp_us,
                    record.fingerprint,
                    int(record.pending),
                    orjson.dumps(record.score),
                    orjson.dumps(list(record.statement_ids)),
                ),
            )
            return True

        return await self._db.write(job)

    async def finish_score(self, line_item_id: str, user_id: str, timestamp_us: int) -> None:
        """Clear `pending` if that score is still the last."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE lti_scores SET pending = 0 "
                "WHERE line_item_id = ? AND user_id = ? AND timestamp_us = ?",
                (line_item_id, user_id, timestamp_us),
            )

        await self._db.write(job)

    async def get_score(self, line_item_id: str, user_id: str) -> ScoreRecord | None:
        """The user's last score on the line item."""
        page = await self.list_scores(line_item_id, user_id=user_id, limit=1, after=None)
        return page.items[0] if page.items else None

    async def list_scores(
        self, line_item_id: str, *, user_id: str | None, limit: int, after: str | None
    ) -> Page:
        """Last scores on a line item, by user id."""
        where = ["line_item_id = ?"]
        params: list[Any] = [line_item_id]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if after is not None:
            where.append("user_id > ?")
            params.append(after)
        params.append(limit + 1)
        sql = (
            "SELECT line_item_id, user_id, timestamp_us, score, fingerprint, statement_ids, "
            f"pending FROM lti_scores WHERE {' AND '.join(where)} ORDER BY user_id LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> Page:
            rows = conn.execute(sql, params).fetchall()
            more = len(rows) > limit
            records = [_score(row) for row in rows[:limit]]
            return Page(records, records[-1].user_id if more and records else None)

        return await self._db.read(job)


def _filter_columns(item: LineItem) -> tuple[str | None, str | None, str | None]:
    props = item.properties
    return props.get("resourceLinkId"), props.get("resourceId"), props.get("tag")


def _line_item(row: Any) -> LineItem:
    item_id, tool_id, properties = row
    return LineItem(id=item_id, tool_id=tool_id, properties=orjson.loads(properties))


def _int_position(after: str) -> int:
    try:
        return int(after)
    except ValueError as exc:
        raise BadRequest("the page cursor is not one this platform issued") from exc


def _score(row: Any) -> ScoreRecord:
    line_item_id, user_id, timestamp_us, score, fingerprint, statement_ids, pending = row
    return ScoreRecord(
        line_item_id=line_item_id,
        user_id=user_id,
        timestamp_us=timestamp_us,
        score=orjson.loads(score),
        fingerprint=fingerprint,
        statement_ids=tuple(orjson.loads(statement_ids)),
        pending=bool(pending),
    )
