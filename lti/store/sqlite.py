"""The LTI stores on the LRS's SQLite database (tables `lti_*`, created when the store is built).

Every write runs as a job of the database's single writer, so each read-check-write below is
atomic with respect to every other process and request.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from lrs.errors import BadRequest, Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from lti.store.base import (
    Consumer,
    LineItem,
    LineItemFilter,
    OutcomeRecord,
    Page,
    PlatformKey,
    ScoreRecord,
    Tool,
    ordered_unique,
)
from lti.store.codec import consumer_doc, consumer_from_doc, tool_doc, tool_from_doc

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_platform_keys (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    kid TEXT NOT NULL,
    private_key_enc TEXT NOT NULL,
    created_at TEXT NOT NULL
);
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
CREATE TABLE IF NOT EXISTS lti_used_once (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lti_used_once_expiry ON lti_used_once(expires_at);
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

_PURGE = 100  # expired one-time values removed per insert


class SQLiteLTIStore:
    """Every LTI store Protocol on one SQLite database."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(SCHEMA)

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.write(job)

    async def _read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.read(job)

    # -- platform key --------------------------------------------------------------------------

    async def get_platform_key(self) -> PlatformKey | None:
        """The platform key, if made."""

        def job(conn: sqlite3.Connection) -> PlatformKey | None:
            row = conn.execute(
                "SELECT kid, private_key_enc, created_at FROM lti_platform_keys"
            ).fetchone()
            return PlatformKey(*row) if row else None

        return await self._read(job)

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

        return await self._write(job)

    # -- registrations -------------------------------------------------------------------------

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

        await self._write(job)

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

        return await self._read(job)

    async def list_tools(self) -> list[Tool]:
        """Every tool, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Tool]:
            rows = conn.execute("SELECT doc FROM lti_tools ORDER BY seq").fetchall()
            return [tool_from_doc(orjson.loads(doc)) for (doc,) in rows]

        return await self._read(job)

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

        await self._write(job)

    async def get_consumer(self, key: str) -> Consumer | None:
        """The consumer with this key."""

        def job(conn: sqlite3.Connection) -> Consumer | None:
            row = conn.execute("SELECT doc FROM lti_consumers WHERE key = ?", (key,)).fetchone()
            return consumer_from_doc(orjson.loads(row[0])) if row else None

        return await self._read(job)

    async def list_consumers(self) -> list[Consumer]:
        """Every consumer, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Consumer]:
            rows = conn.execute("SELECT doc FROM lti_consumers ORDER BY seq").fetchall()
            return [consumer_from_doc(orjson.loads(doc)) for (doc,) in rows]

        return await self._read(job)

    # -- replay protection ---------------------------------------------------------------------

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

        return await self._write(job)

    # -- line items ----------------------------------------------------------------------------

    async def add_line_item(self, item: LineItem) -> None:
        """Store a new line item."""
        row = (item.id, item.tool_id, *_filter_columns(item), orjson.dumps(item.properties))

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO lti_line_items (id, tool_id, resource_link_id, resource_id, tag, "
                "properties) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._write(job)

    async def get_line_item(self, item_id: str) -> LineItem | None:
        """The line item with this id."""

        def job(conn: sqlite3.Connection) -> LineItem | None:
            found = conn.execute(
                "SELECT id, tool_id, properties FROM lti_line_items WHERE id = ?", (item_id,)
            ).fetchone()
            return _line_item(found) if found else None

        return await self._read(job)

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

        return await self._write(job)

    async def delete_line_item(self, item_id: str) -> bool:
        """Delete a line item and its scores."""

        def job(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM lti_scores WHERE line_item_id = ?", (item_id,))
            cur = conn.execute("DELETE FROM lti_line_items WHERE id = ?", (item_id,))
            return cur.rowcount == 1

        return await self._write(job)

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

        return await self._read(job)

    # -- scores --------------------------------------------------------------------------------

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

        return await self._write(job)

    async def finish_score(self, line_item_id: str, user_id: str, timestamp_us: int) -> None:
        """Clear `pending` if that score is still the last."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE lti_scores SET pending = 0 "
                "WHERE line_item_id = ? AND user_id = ? AND timestamp_us = ?",
                (line_item_id, user_id, timestamp_us),
            )

        await self._write(job)

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

        return await self._read(job)

    # -- LTI 1.1 outcomes ----------------------------------------------------------------------

    async def get_outcome(
        self, consumer_key: str, resource_link_id: str, user_id: str
    ) -> OutcomeRecord | None:
        """The current result."""

        def job(conn: sqlite3.Connection) -> OutcomeRecord | None:
            return _outcome_row(conn, consumer_key, resource_link_id, user_id)

        return await self._read(job)

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

        return await self._write(job)

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

        return await self._write(job)


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
